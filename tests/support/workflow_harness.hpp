#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "control/protocol/event_sink.hpp"
#include "control/registry/service_registry.hpp"
#include "control/registry/state_store.hpp"
#include "control/workflows/deploy_workflow.hpp"
#include "proxy/server.hpp"
#include "tests/support/fake_engine.hpp"
#include "tests/support/temp_dir.hpp"

namespace handoff::test {

/// Keeps every event a workflow emits; `leave` makes it look like its reader went away.
class Events : public control::EventSink {
 public:
  void emit(boost::json::object event) override;
  [[nodiscard]] bool abandoned() const override { return left_.load(); }
  /// From now on, the reader is gone.
  void leave() { left_ = true; }
  /// Whether an event has this step and state.
  [[nodiscard]] bool has(std::string_view step, std::string_view state) const;
  /// The events so far.
  [[nodiscard]] std::vector<boost::json::object> all() const;

 private:
  mutable std::mutex mutex_;
  std::vector<boost::json::object> events_;
  std::atomic<bool> left_{false};
};

/// A real proxy on 127.0.0.1 with one service, `web` (Host web.test), its registry and state
/// in a scratch directory, and a FakeEngine with images app:v1, app:v2 and app:v3.
struct Harness {
  TempDir dir;
  proxy::Server server;
  control::StateStore store{dir.path()};
  control::ServiceRegistry registry{server, store};
  FakeEngine engine;

  Harness();
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  /// Deploy options for `image` with fast health checks, host networking and --keep 1.
  static control::DeployOptions options(const std::string& image);
  /// Runs `deploy web` with `o` (default: options(image)).
  control::OperationResult deploy(const std::string& image, Events& events,
                                  control::DeployOptions o = {});
  /// Runs a container rollback of `web`.
  control::OperationResult rollback(Events& events);
  /// What `web` answers through the proxy.
  std::string get();
};

/// A one-thread proxy configuration listening on 127.0.0.1 (any port), without access log.
proxy::ProxyConfig loopback_config();

/// The result's error code, or "ok".
std::string code_of(const control::OperationResult& r);

}  // namespace handoff::test
