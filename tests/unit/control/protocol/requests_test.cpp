// The request structs the CLI and the API share: what the CLI writes, the API reads back field
// for field (each field is named once, in its struct); what is not set is not sent; the API's
// side stays strict (unknown, repeated, mistyped and out-of-range fields are refused).
#include "control/protocol/requests.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "control/base/domain_error.hpp"
#include "tests/support/domain_refusal.hpp"

using namespace handoff;
using namespace std::chrono_literals;
using control::ErrorKind;
using test::refusal;

namespace {

control::DeployRequest every_deploy_field() {
  control::DeployRequest r;
  r.image = "app:v2";
  r.name_prefix = "web";
  r.network = "front";
  r.host_network = false;
  r.port = 8080;
  r.keep = 3;
  r.replicas = 4;
  r.stop_timeout = 2500ms;
  r.env = {"A=1", "B=two words"};
  r.hosts = {"web.test"};
  r.pull = "always";
  r.registry_auth = "token";
  r.gate = {"/ready", "app.test", 250ms, 3, 4, 90s, 1min, false};
  r.canary = {control::Percent{1050}, control::Percent{50}, 2min, 200, 1h};
  r.tls = {"acme", std::nullopt, std::nullopt, true, 600};
  return r;
}

// What `value_from` writes, read back as the API reads a body.
template <typename R>
R through_the_wire(const R& request) {
  return control::read_request<R>(boost::json::serialize(boost::json::value_from(request)));
}

}  // namespace

TEST_CASE("a request the CLI writes reads back field for field, every field set") {
  const control::DeployRequest sent = every_deploy_field();
  const control::DeployRequest got = through_the_wire(sent);
  CHECK(control::request_body(got) == control::request_body(sent));
  CHECK(got.stop_timeout == 2500ms);
  CHECK(got.gate.deploy_timeout == 90s);
  CHECK(got.canary.bake == 1h);
  CHECK(got.canary.canary->hundredths == 1050);
  CHECK(got.env == std::vector<std::string>{"A=1", "B=two words"});
  CHECK(got.tls.hsts == 600);
  CHECK(control::set_field_names(got).size() == 28);

  control::SwapRequest swap;
  swap.to = {"127.0.0.1:9001"};
  CHECK(boost::json::value_from(swap).as_object().at("to") == "127.0.0.1:9001");  // one: a string
  swap.to.push_back("127.0.0.1:9002");
  CHECK(through_the_wire(swap).to == swap.to);
  CHECK(boost::json::value_to<control::SwapRequest>(boost::json::value_from(swap)).to == swap.to);
}

TEST_CASE("a field that is not set is not sent, and reads back as not set") {
  control::ScaleRequest scale;
  scale.replicas = 3;
  CHECK(boost::json::value_from(scale) == boost::json::object{{"replicas", 3}});
  const control::ScaleRequest got = through_the_wire(scale);
  CHECK_FALSE(got.gate.health_path);
  CHECK_FALSE(got.gate.health_check);
  CHECK(control::set_field_names(got) == std::vector<std::string_view>{"replicas"});
  CHECK(control::request_body(control::RollbackRequest{}).empty());
}

TEST_CASE("the API's side of a request stays strict") {
  using control::read_request;
  CHECK(refusal([] { read_request<control::ScaleRequest>(R"({"replicas":2,"replica":2})"); }) ==
        ErrorKind::invalid);  // unknown field
  CHECK(refusal([] { read_request<control::ScaleRequest>(R"({"replicas":2,"replicas":3})"); }) ==
        ErrorKind::invalid);  // repeated
  CHECK(refusal([] { read_request<control::ScaleRequest>(R"({"replicas":"2"})"); }) ==
        ErrorKind::invalid);  // mistyped
  CHECK(refusal([] { read_request<control::ScaleRequest>(R"({"replicas":100000})"); }) ==
        ErrorKind::invalid);  // out of range
  CHECK(refusal([] { read_request<control::SwapRequest>(R"({"window":"soon"})"); }) ==
        ErrorKind::invalid);  // not a duration
  CHECK(refusal([] { read_request<control::SwapRequest>(R"({"canary":"150%"})"); }) ==
        ErrorKind::invalid);  // not a share
  CHECK(refusal([] { read_request<control::SwapRequest>("[1]"); }) == ErrorKind::invalid);
  CHECK_FALSE(refusal([] { read_request<control::SwapRequest>(""); }));  // an empty body: {}
}
