#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "containers/engine.hpp"
#include "control/workflows/deploy_workflow.hpp"
#include "tests/support/test_backend.hpp"

namespace handoff::test {

/// What a FakeEngine does wrong, so that each step of a deploy can be made to fail.
enum class EngineFault {
  none,
  pull_fails,        ///< the registry has no such image
  pull_hangs,        ///< the registry never finishes sending the image
  create_fails,      ///< the engine refuses to create the container
  start_fails,       ///< the engine refuses to start it
  exits_at_start,    ///< it starts, then exits with code 3 before it runs
  never_runs,        ///< it stays "created"
  engine_unhealthy,  ///< its HEALTHCHECK reports unhealthy
  never_healthy,     ///< its HEALTHCHECK reports starting forever
  app_unhealthy,     ///< the app answers 503 on every path
  stop_fails,        ///< stopping any container fails (the retire step)
  remove_fails,      ///< removing any container fails (retire and cleanup)
};

/// A container engine inside the test process. A container's app is a real HTTP server on
/// 127.0.0.1 at the PORT its environment gives (host networking), answering its image's name;
/// images are names in a set. Copies share one state, so `factory` can hand out engines the way
/// DockerEngine is made per operation. Thread-safe.
class FakeEngine : public containers::Engine {
 public:
  FakeEngine();

  /// Makes engines that share this one's state.
  [[nodiscard]] control::EngineFactory factory() const;
  /// Makes an image present (or, with `in_registry`, pullable).
  void add_image(const std::string& image, bool in_registry = false);
  /// From now on, fails as `fault` says (EngineFault::none: behaves again).
  void set_fault(EngineFault fault);
  /// The `nth` container created from now on (1: the next) gets `fault`; the others none.
  void set_fault_on_create(int nth, EngineFault fault);
  /// How long a started container takes to run, and then to be healthy (zero: the image has no
  /// HEALTHCHECK).
  void set_delays(std::chrono::milliseconds to_running, std::chrono::milliseconds to_healthy);
  /// Every container, by name: its state ("created", "running", "exited").
  [[nodiscard]] std::map<std::string, std::string> containers() const;
  /// How many times each call was made, by name ("create", "stop", ...).
  [[nodiscard]] int calls(const std::string& name) const;

  bool has_image(const std::string& image) override;
  void pull(const std::string& image, const std::string& registry_auth,
            const std::function<void(const containers::PullProgress&)>& progress,
            const std::function<bool()>& keep_going) override;
  std::string create(const containers::ContainerSpec& spec) override;
  void start(const std::string& id) override;
  containers::ContainerInfo inspect(const std::string& id) override;
  void stop(const std::string& id, std::chrono::seconds timeout) override;
  void remove(const std::string& id) override;
  std::vector<containers::ContainerSummary> list(const std::string& label) override;
  std::string logs(const std::string& id, int lines) override;
  /// Reports containers that leave the running state (stopped, or `kill`ed), polling; it
  /// replays nothing from before it was called (`since` is not used).
  void watch_deaths(const std::string& label, std::int64_t since,
                    const std::function<void(const std::string& id)>& died,
                    const std::function<bool()>& keep_going) override;
  /// Kills the running container named `name`, as `docker kill` does.
  void kill(const std::string& name);
  void follow_logs(const std::string& id, int lines,
                   const std::function<void(std::string_view)>& output,
                   const std::function<bool()>& keep_going) override;
  /// Adds a line to the output of the container named `name`.
  void say(const std::string& name, const std::string& line);

 private:
  using Clock = std::chrono::steady_clock;
  struct Container {
    containers::ContainerSpec spec;
    std::string state = "created";
    Clock::time_point started;
    EngineFault fault = EngineFault::none;  // the fault in force when it was created
    std::unique_ptr<TestBackend> app;
    std::string output;  // what it "printed", line by line
  };
  struct State {
    std::mutex mutex;
    std::set<std::string> images;
    std::set<std::string> registry;
    EngineFault fault = EngineFault::none;
    int creates_until_fault = 0;  // see set_fault_on_create; 0: none pending
    EngineFault fault_on_create = EngineFault::none;
    std::chrono::milliseconds to_running{0};
    std::chrono::milliseconds to_healthy{0};
    std::map<std::string, Container> containers;  // by id
    std::map<std::string, int> calls;
    int next_id = 1;
  };

  Container& find(const std::string& id);  // with the mutex held; throws 404
  void count(const std::string& call);     // with the mutex held
  static std::string last_lines(const std::string& text, int lines);

  std::shared_ptr<State> state_;
};

}  // namespace handoff::test
