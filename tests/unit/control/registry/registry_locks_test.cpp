// The registry never makes status, metrics or another service's change wait for a resolver or
// a disk: an upstream address is looked up before any lock is taken, and the state file is
// written with the records' lock released. Each case holds the slow step provably blocked (a
// resolver held on a gate, a state file whose temporary is a FIFO nobody reads) while the
// readers answer.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "control/base/domain_error.hpp"
#include "control/registry/service_registry.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/server.hpp"
#include "tests/support/domain_refusal.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using Clock = std::chrono::steady_clock;

namespace {

// A resolver that holds every lookup of `held` until opened; any other address resolves.
class GatedResolver {
 public:
  explicit GatedResolver(std::string held) : held_(std::move(held)) {}

  std::vector<boost::asio::ip::tcp::endpoint> resolve(std::string_view address) {
    if (address == held_) {
      std::unique_lock lock(mutex_);
      waiting_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      address = "127.0.0.1:9002";
    }
    return proxy::resolve_address(address);
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    REQUIRE(changed_.wait_for(lock, std::chrono::seconds(10), [this] { return waiting_; }));
  }
  bool holding() {
    std::lock_guard lock(mutex_);
    return waiting_ && !open_;
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  const std::string held_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool waiting_ = false;
  bool open_ = false;
};

// How long the slowest of a few status and metrics calls took, in microseconds.
std::int64_t slowest_read_us(const control::ServiceRegistry& registry) {
  std::int64_t slowest = 0;
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    (void)registry.status();
    (void)registry.metrics();
    (void)registry.watched();
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    slowest = std::max<std::int64_t>(slowest, took.count());
  }
  return slowest;
}

bool shows(const control::ServiceRegistry& registry, const std::string& name) {
  const boost::json::object status = registry.status();
  for (const auto& s : status.at("services").as_array()) {
    if (s.as_object().at("name").as_string() == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("status, metrics and other services' changes go on while a resolve hangs") {
  test::TempDir dir;
  proxy::Server server(test::loopback_config());
  control::StateStore store(dir.path());
  GatedResolver resolver("slow.test:80");
  control::ServiceRegistry registry(
      server, store, [&resolver](std::string_view address) { return resolver.resolve(address); });
  registry.add("web", {"web.test"}, "127.0.0.1:9001");

  auto swap = std::async(std::launch::async, [&] {
    control::ServiceClaim claim = registry.claim("web");
    return claim.switch_to({{"slow.test:80"}}).retired.size();
  });
  resolver.wait_until_held();
  auto reads = std::async(std::launch::async, [&] {
    const std::int64_t slowest = slowest_read_us(registry);
    registry.add("api", {"api.test"}, "127.0.0.1:9003");  // a change to another service
    return slowest;
  });
  // A registry that looked up under its lock would keep them waiting until the gate opens.
  const bool answered = reads.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  CHECK(answered);
  CHECK(resolver.holding());  // all of the above answered while the lookup still hung
  resolver.open();
  const std::int64_t slowest = reads.get();
  MESSAGE("slowest status+metrics while a resolve hangs: " << slowest << " us");
  CHECK(swap.get() == 1);
  CHECK(registry.view("web").upstream == "slow.test:80");
  CHECK(shows(registry, "api"));
}

TEST_CASE("status and metrics answer while the state is being saved, and a failed save is undone") {
  test::TempDir dir;
  proxy::Server server(test::loopback_config());
  control::StateStore store(dir.path());
  control::ServiceRegistry registry(server, store);
  registry.add("web", {"web.test"}, "127.0.0.1:9001");

  // The state is written to a temporary first: as a FIFO, its open blocks until read.
  const std::string fifo = (dir.path() / ".state.json.tmp").string();
  ::unlink(fifo.c_str());  // left by no earlier save, normally
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::atomic<bool> saved{false};
  auto add = std::async(std::launch::async, [&] {
    const auto refused = test::refusal([&] { registry.add("api", {"api.test"}, ""); });
    saved = true;
    return refused;
  });
  // The new service shows once it is made, before its save: from then on the save is blocked
  // on the FIFO, which nobody has opened for reading.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!shows(registry, "api") && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  REQUIRE(shows(registry, "api"));
  auto reads = std::async(std::launch::async, [&] { return slowest_read_us(registry); });
  // A registry that saved under its lock would keep them waiting until the FIFO is read.
  CHECK(reads.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK_FALSE(saved.load());  // all of the above answered while the save was blocked

  // Reading the FIFO lets the save go on; a FIFO cannot be synced, so the save fails and the
  // change is undone, as on a full disk.
  const int reader = ::open(fifo.c_str(), O_RDONLY);
  REQUIRE(reader >= 0);
  char drained[4096];
  while (::read(reader, drained, sizeof drained) > 0) {
  }
  ::close(reader);
  MESSAGE("slowest status+metrics while a save is blocked: " << reads.get() << " us");
  CHECK(add.get() == control::ErrorKind::not_saved);
  CHECK_FALSE(shows(registry, "api"));
  ::unlink(fifo.c_str());
  registry.add("api", {"api.test"}, "");  // and the next change is saved as usual
  CHECK(shows(registry, "api"));
}
