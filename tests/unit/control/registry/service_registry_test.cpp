// The registry of services on its own: what it refuses and why, the workflow claim, the swap,
// and that every change it accepts survives a restart (a fresh registry restored from the state
// it saved sees the same services).
#include "control/registry/service_registry.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "control/base/domain_error.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/server.hpp"
#include "tests/support/domain_refusal.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using control::ErrorKind;
using test::refusal;

namespace {

struct Registry {
  test::TempDir dir;
  proxy::Server server{test::loopback_config()};
  control::StateStore store{dir.path()};
  control::ServiceRegistry registry{server, store};

  /// What a registry restored from the saved state shows: a restart after the last change.
  [[nodiscard]] boost::json::object after_restart() const {
    proxy::Server fresh_server(test::loopback_config());
    control::ServiceRegistry fresh(fresh_server, store);
    fresh.restore(store.load());
    return comparable(fresh.status());
  }
  [[nodiscard]] boost::json::object now() const { return comparable(registry.status()); }

 private:
  // Status without what a restart rightly resets: counters and uptime.
  static boost::json::object comparable(boost::json::object status) {
    boost::json::object out;
    for (auto& s : status.at("services").as_array()) {
      const auto& o = s.as_object();
      boost::json::object kept;
      for (const char* key :
           {"hosts", "upstream", "previous", "container", "strip_prefix", "generation", "tls"}) {
        kept[key] = o.at(key);
      }
      out[o.at("name").as_string()] = std::move(kept);
    }
    return out;
  }
};

// A change that gives a service a new certificate for web.test, and HTTPS settings.
control::TlsChange tls_change(bool redirect, std::uint32_t hsts) {
  return {control::CertificateSource::given, test::parsed_certificate({"web.test"}), redirect,
          hsts};
}

}  // namespace

TEST_CASE("a service's certificate is presented for its hosts, swapped by one store, and dropped") {
  Registry r;
  r.registry.add("web", {"web.test", "www.web.test"}, "", false, tls_change(false, 0));
  const auto first = r.server.tls().certificates();
  REQUIRE(first->find("www.web.test") != nullptr);
  CHECK(first->find("web.test") == first->find("www.web.test"));
  r.registry.update("web", {.tls = tls_change(true, 60)});
  const auto second = r.server.tls().certificates();
  CHECK(second->find("web.test") != first->find("web.test"));
  CHECK(r.registry.view("web").service->redirect_https());
  CHECK(r.registry.view("web").service->hsts_seconds() == 60);
  r.registry.update("web", {.tls = {.source = control::CertificateSource::none}});
  CHECK(r.server.tls().certificates()->find("web.test") == nullptr);
  CHECK(r.registry.view("web").service->redirect_https());  // unchanged: not part of that change
}

TEST_CASE("automatic certificates: refused without ACME, installed only while still wanted") {
  Registry r;
  const control::TlsChange acme{.source = control::CertificateSource::acme};
  CHECK(refusal([&] { r.registry.add("web", {"web.test"}, "", false, acme); }) ==
        ErrorKind::invalid);
  CHECK_FALSE(r.registry.exists("web"));
  r.registry.set_acme_available(true);
  r.registry.add("web", {"web.test"}, "", false, acme);
  const auto targets = r.registry.acme_targets();
  REQUIRE(targets.size() == 1);
  CHECK_FALSE(targets[0].certificate);
  const auto made = test::make_certificate({{"web.test"}});
  CHECK(r.registry.install_certificate("web",
                                       proxy::Certificate::parse(made.chain_pem, made.key_pem)));
  CHECK(r.server.tls().certificates()->find("web.test") != nullptr);
  CHECK(r.registry.acme_targets()[0].issued_by_acme);
  CHECK(r.after_restart() == r.now());
  r.registry.update("web", {.tls = {.source = control::CertificateSource::none}});
  CHECK_FALSE(r.registry.install_certificate(
      "web", proxy::Certificate::parse(made.chain_pem, made.key_pem)));
  CHECK(r.server.tls().certificates()->find("web.test") == nullptr);
}

TEST_CASE("a saved certificate that has expired since still loads, shown as expired") {
  Registry r;
  r.registry.add("web", {"web.test"}, "");
  control::ProxyState state = r.store.load();
  const auto expired =
      test::make_certificate({{"web.test"}, std::chrono::hours(-48), std::chrono::hours(-1)});
  state.services[0].tls_source = "given";
  state.services[0].tls_cert = expired.chain_pem;
  state.services[0].tls_key = expired.key_pem;
  r.store.save(state);
  proxy::Server fresh_server(test::loopback_config());
  control::ServiceRegistry fresh(fresh_server, r.store);
  fresh.restore(r.store.load());
  const auto status = fresh.status();
  const auto& tls = status.at("services").at(0).at("tls").as_object();
  CHECK(tls.at("expired").as_bool());
  CHECK(fresh_server.tls().certificates()->find("web.test") != nullptr);
}

TEST_CASE("the registry refuses a bad name, a bad host, a taken name or host, an unknown one") {
  Registry r;
  r.registry.add("web", {"web.test"}, "127.0.0.1:9001");
  CHECK(refusal([&] { r.registry.add("web", {"other.test"}, ""); }) == ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.add("api", {"WEB.test"}, ""); }) == ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.add("api", {"bad host"}, ""); }) == ErrorKind::invalid);
  CHECK(refusal([&] { r.registry.add("no/slash", {"a.test"}, ""); }) == ErrorKind::invalid);
  CHECK(refusal([&] { r.registry.add("api", {"a.test"}, "not an address"); }) ==
        ErrorKind::invalid);
  CHECK(refusal([&] { r.registry.remove("nope"); }) == ErrorKind::not_found);
  CHECK(refusal([&] {
          r.registry.update("nope", {.hosts = std::vector<std::string>{"x.test"}});
        }) == ErrorKind::not_found);
  CHECK(refusal([&] { (void)r.registry.view("nope").service; }) == ErrorKind::not_found);
  // Nothing refused changed anything.
  const boost::json::object now = r.now();
  CHECK(now.size() == 1);
  CHECK(now.at("web").at("hosts") == boost::json::array{"web.test"});
  CHECK(now.at("web").at("upstream") == "127.0.0.1:9001");
}

TEST_CASE("one workflow at a time: a claimed service refuses another claim and its removal") {
  Registry r;
  r.registry.add("web", {"web.test"}, "");
  {
    auto claim = r.registry.claim("web");
    CHECK(refusal([&] { (void)r.registry.claim("web"); }) == ErrorKind::conflict);
    CHECK(refusal([&] { r.registry.remove("web"); }) == ErrorKind::conflict);
  }
  CHECK_FALSE(refusal([&] { (void)r.registry.claim("web"); }));
  CHECK(refusal([&] { (void)r.registry.claim("nope"); }) == ErrorKind::not_found);
}

TEST_CASE("a swap stores the new upstream at once and keeps the old one for rollback") {
  Registry r;
  r.registry.add("web", {"web.test"}, "127.0.0.1:9001");
  bool switched = false;
  const auto service = r.registry.view("web").service;
  control::ServiceClaim claim = r.registry.claim("web");
  // Runs inside the switch, right after the store (with the registry locked: it must not call
  // back into it).
  const auto old = claim
                       .switch_to({{"127.0.0.1:9002"}}, {},
                                  [&] {
                                    switched = true;
                                    CHECK(service->upstreams()->addresses() == "127.0.0.1:9002");
                                  })
                       .retired;
  CHECK(switched);
  REQUIRE(old.size() == 1);
  CHECK(old.front()->address() == "127.0.0.1:9001");
  CHECK(old.front()->retired());
  CHECK(r.registry.view("web").upstream == "127.0.0.1:9002");
  CHECK(r.registry.view("web").serving.previous == std::vector<std::string>{"127.0.0.1:9001"});
  CHECK(refusal([&] { claim.switch_to({{"nowhere"}}); }) == ErrorKind::invalid);
  CHECK(refusal([&] {
          claim.switch_to({{"127.0.0.1:9003", "127.0.0.1:9003"}});
        }) == ErrorKind::invalid);
  CHECK(r.registry.view("web").upstream == "127.0.0.1:9002");
}

TEST_CASE("every change the registry accepts survives a restart") {
  Registry r;
  r.registry.add("web", {"web.test"}, "");
  CHECK(r.after_restart() == r.now());
  r.registry.add("api", {"api.test", "*.api.test"}, "127.0.0.1:9001");
  CHECK(r.after_restart() == r.now());
  r.registry.update("web", {.hosts = std::vector<std::string>{"www.test", "web.test"}});
  CHECK(r.after_restart() == r.now());
  std::optional<control::ServiceClaim> claim(r.registry.claim("web"));
  claim->switch_to({{"127.0.0.1:9002"}});
  CHECK(r.after_restart() == r.now());
  claim->switch_to({{"127.0.0.1:9004", "127.0.0.1:9005"}});
  CHECK(r.after_restart() == r.now());
  claim->switch_to({{"127.0.0.1:9002"}});
  CHECK(r.after_restart() == r.now());
  r.registry.update("web", {.tls = tls_change(true, 600)});
  CHECK(r.after_restart() == r.now());
  r.registry.set_acme_available(true);
  r.registry.update("web", {.tls = {.source = control::CertificateSource::acme}});
  CHECK(r.after_restart() == r.now());
  r.registry.update("web",
                    {.tls = {.source = control::CertificateSource::none, .redirect_https = false}});
  CHECK(r.after_restart() == r.now());
  claim->switch_to({{"127.0.0.1:9003"}, {{"id3", "web-3", "app:v3"}}});
  CHECK(r.after_restart() == r.now());
  const std::uint64_t n = claim->reserve_container_number();
  CHECK(claim->reserve_container_number() == n + 1);
  claim.reset();
  r.registry.remove("api");
  CHECK(r.after_restart() == r.now());
  // The container record and the reserved numbers come back too.
  proxy::Server fresh_server(test::loopback_config());
  control::ServiceRegistry fresh(fresh_server, r.store);
  fresh.restore(r.store.load());
  CHECK(fresh.view("web").first_container().name == "web-3");
  CHECK(fresh.view("web").serving.previous == std::vector<std::string>{"127.0.0.1:9002"});
  CHECK(fresh.claim("web").reserve_container_number() == n + 2);
}

TEST_CASE("a frozen registry (an upgrade hands it over) refuses every change until thawed") {
  Registry r;
  r.registry.add("web", {"web.test"}, "127.0.0.1:9001");
  const std::optional<control::ProxyState> state = r.registry.freeze(std::chrono::seconds(1));
  REQUIRE(state);
  REQUIRE(state->services.size() == 1);
  CHECK(state->services[0].upstreams == std::vector<std::string>{"127.0.0.1:9001"});
  CHECK_FALSE(r.registry.freeze(std::chrono::milliseconds(0)));  // one handover at a time
  const std::string before = control::state_to_json(r.store.load());
  CHECK(refusal([&] { r.registry.add("api", {"api.test"}, ""); }) == ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.update("web", control::ServiceChange{}); }) ==
        ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.remove("web"); }) == ErrorKind::conflict);
  CHECK(refusal([&] { (void)r.registry.claim("web"); }) == ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.pause("web", std::chrono::seconds(1)); }) == ErrorKind::conflict);
  CHECK(refusal([&] { r.registry.resume("web"); }) == ErrorKind::conflict);
  CHECK(control::state_to_json(r.store.load()) == before);
  r.registry.thaw();
  r.registry.add("api", {"api.test"}, "");
  CHECK(r.registry.exists("api"));
}

TEST_CASE("freezing waits for the workflow that runs, and gives up after its wait") {
  Registry r;
  r.registry.add("web", {"web.test"}, "127.0.0.1:9001");
  std::optional<control::ServiceClaim> claim(r.registry.claim("web"));
  CHECK(r.registry.busy_services() == "'web'");
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(r.registry.freeze(std::chrono::milliseconds(100)));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
  std::thread release([&claim] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    claim.reset();
  });
  CHECK(r.registry.freeze(std::chrono::seconds(5)));  // woken by the release, not the timeout
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  release.join();
  CHECK(r.registry.busy_services().empty());
}

TEST_CASE("a resumed service keeps its last pause's settings across a restart, byte for byte") {
  Registry r;
  r.registry.add("web", {"web.test"}, "127.0.0.1:9001");
  r.registry.pause("web", std::chrono::milliseconds(100), {"back soon", std::chrono::seconds(9)});
  r.registry.resume("web");
  const std::string saved = control::state_to_json(r.store.load());
  proxy::Server fresh_server(test::loopback_config());
  control::ServiceRegistry fresh(fresh_server, r.store);
  fresh.restore(r.store.load());  // saves what it restored
  CHECK(control::state_to_json(r.store.load()) == saved);
  CHECK_FALSE(fresh.view("web").service->paused());
}
