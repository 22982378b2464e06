#include "control/deploy_workflow.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <optional>

#include "control/deploy_cost.hpp"
#include "control/domain_error.hpp"
#include "control/drain_step.hpp"
#include "control/operation_runner.hpp"
#include "control/workflow_step.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr int kLogLines = 20;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// A loopback port nothing listens on right now, for a host-network container.
int free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::shared_ptr<containers::Engine> reach_engine(const EngineFactory& engines) {
  try {
    return std::shared_ptr<containers::Engine>(engines());
  } catch (const containers::EngineError& e) {
    throw DomainError(ErrorKind::unavailable, "engine_unreachable", e.what());
  }
}

// What an engine failure means: its 4xx say the input was bad (unknown image, name taken).
ErrorKind kind_of(const containers::EngineError& e) {
  return e.status() == 404 || e.status() == 409 || e.status() == 400 ? ErrorKind::invalid
         : e.status() == 0                                           ? ErrorKind::unavailable
                                                                     : ErrorKind::engine_failed;
}

/// One run of the deploy or container-rollback steps. A step that fails throws StepFailure;
/// `run` then removes the new container (when it created it) and reports the cause.
class ContainerSwitch {
 public:
  struct StepFailure {
    ErrorKind kind;
    std::string code;
    std::string message;
  };

  ContainerSwitch(ServiceRegistry& registry, proxy::Server& server,
                  std::shared_ptr<containers::Engine> engine, std::string service,
                  DeployOptions options, EventSink& sink)
      : registry_(registry),
        server_(server),
        engine_(std::move(engine)),
        service_(std::move(service)),
        options_(std::move(options)),
        sink_(sink) {}

  /// The deploy, one line per step (see Step).
  OperationResult deploy() {
    begin(options_.image);
    return run([this] {
      pull_image();
      create_new();
      start_new();
      find_address();
      pass_health_check();
      switch_over();
      drain_old();
      retire_old();
    });
  }

  /// The rollback to a kept container: the deploy's steps from start on.
  OperationResult roll_back(const containers::ContainerSummary& kept) {
    begin(kept.name);
    return run([&] {
      new_id_ = kept.id;
      created_ = false;  // a kept container is stopped again on failure, not removed
      start_new();
      find_address();
      pass_health_check();
      switch_over();
      drain_old();
      retire_old();
    });
  }

 private:
  /// Undoes a new container on every way out before the switch: whatever ends the steps (a
  /// failed step, an engine error, anything thrown), the new container does not stay behind.
  struct NewContainerGuard {
    ContainerSwitch& run;
    ~NewContainerGuard() { run.cleanup_new(); }
  };

  template <typename Steps>
  OperationResult run(Steps&& steps) {
    const auto start = Clock::now();
    // One deadline for the whole deploy: starting, the engine's health and the HTTP gate share
    // it, so a 60 s timeout never becomes 120 s.
    deadline_ = start + options_.swap.health.timeout;
    old_ = registry_.container(service_);
    cost_.emplace(registry_.service(service_));
    try {
      NewContainerGuard guard{*this};
      steps();
    } catch (const StepFailure& f) {
      return with_cost(operation_error(f.kind, f.code, f.message), *cost_);
    } catch (const containers::EngineError& e) {
      return with_cost(operation_error(kind_of(e), "engine_error", e.what()), *cost_);
    } catch (const std::exception& e) {
      return with_cost(operation_error(ErrorKind::internal, "internal", e.what()), *cost_);
    }
    return OperationResult{std::nullopt, json::object{{"result", "ok"},
                                                      {"service", service_},
                                                      {"container", new_name_},
                                                      {"image", new_image_},
                                                      {"to", address_},
                                                      {"generation", generation_},
                                                      {"switch_us", switch_us_},
                                                      {"drain_ms", drain_ms_},
                                                      {"closed", closed_},
                                                      {"elapsed_ms", ms_since(start)},
                                                      {"cost", cost_->report()}}};
  }

  void begin(const std::string& to) {
    const ContainerRef current = registry_.container(service_);
    emit_begin(sink_, service_,
               current.id.empty() ? registry_.current_upstream(service_) : current.name, to);
  }

  void step(Step name, StepState state, json::object fields = {}) {
    emit_step(sink_, name, state, std::move(fields));
  }

  // The new container's last log lines, for a failure message.
  std::string tail() {
    try {
      std::string logs = engine_->logs(new_id_, kLogLines);
      while (!logs.empty() && logs.back() == '\n') {
        logs.pop_back();
      }
      return logs.empty() ? std::string() : "\nlast log lines of " + new_name_ + ":\n" + logs;
    } catch (const containers::EngineError&) {
      return {};
    }
  }

  // Waits between polls of the engine; a shutdown ends the wait and the deploy, before the
  // switch, as a failure (the new container is removed, the old one keeps serving).
  void pause(milliseconds wait) {
    if (wait_unless_stopped(sink_.stop_token(), Clock::now() + wait)) {
      stop_for_shutdown();
    }
  }

  [[noreturn]] void stop_for_shutdown() {
    fail(ErrorKind::unavailable, "shutting_down",
         "handoff is shutting down: the deploy stopped before the switch");
  }

  [[noreturn]] void fail(ErrorKind kind, std::string code, const std::string& message) {
    throw StepFailure{kind, std::move(code), message + tail()};
  }

  // Pulls the image when --pull says so. The deploy's deadline starts after the pull: how long
  // a download takes says nothing about the new version's health.
  void pull_image() {
    if (options_.pull != "always" && engine_->has_image(options_.image)) {
      return;
    }
    if (options_.pull == "never") {
      fail(ErrorKind::invalid, "image_missing",
           fmt::format("image {} is not on the engine and --pull is never", options_.image));
    }
    const auto t = Clock::now();
    step(Step::pull, StepState::running, {{"image", options_.image}});
    auto last = Clock::now();
    const auto report = [&](const containers::PullProgress& p) {
      if (Clock::now() - last >= milliseconds(500)) {
        last = Clock::now();
        step(Step::pull, StepState::running,
             {{"layers", p.layers},
              {"layers_done", p.layers_done},
              {"bytes", p.bytes},
              {"total_bytes", p.total_bytes},
              {"elapsed_ms", ms_since(t)}});
      }
    };
    // A download may take minutes: a shutdown stops it rather than wait for it.
    const auto keep_going = [this] { return !sink_.stop_token().stop_requested(); };
    try {
      engine_->pull(options_.image, options_.registry_auth, report, keep_going);
    } catch (const containers::EngineError&) {
      if (!keep_going()) {
        stop_for_shutdown();
      }
      throw;
    }
    step(Step::pull, StepState::done, {{"image", options_.image}, {"elapsed_ms", ms_since(t)}});
    deadline_ = Clock::now() + options_.swap.health.timeout;
  }

  void create_new() {
    const std::uint64_t number = registry_.reserve_container_number(service_);
    const std::string prefix = options_.name_prefix.empty() ? service_ : options_.name_prefix;
    new_name_ = fmt::format("{}-{}", prefix, number);
    new_image_ = options_.image;
    containers::ContainerSpec spec;
    spec.name = new_name_;
    spec.image = options_.image;
    spec.env = options_.env;
    spec.network = options_.host_network ? "host" : options_.network;
    spec.stop_timeout = options_.stop_timeout;
    int port = options_.port;
    if (options_.host_network) {
      port = free_loopback_port();
      spec.env.push_back(fmt::format("PORT={}", port));
    }
    spec.labels = {{"handoff.service", service_},
                   {"handoff.generation", std::to_string(number)},
                   {"handoff.port", std::to_string(port)},
                   {"handoff.network", spec.network}};
    const auto t = Clock::now();
    step(Step::create, StepState::running, {{"name", new_name_}, {"image", spec.image}});
    new_id_ = engine_->create(spec);
    created_ = true;
    step(Step::create, StepState::done,
         {{"id", new_id_.substr(0, 12)}, {"elapsed_ms", ms_since(t)}});
  }

  // Starts the new container and waits until it runs; one that exits fails the deploy with
  // its exit code.
  void start_new() {
    const auto t = Clock::now();
    containers::ContainerInfo info = engine_->inspect(new_id_);
    new_name_ = info.name;
    new_image_ = info.image;
    step(Step::start, StepState::running, {{"name", new_name_}});
    engine_->start(new_id_);
    const auto deadline = deadline_;
    while (true) {
      info = engine_->inspect(new_id_);
      if (info.running) {
        break;
      }
      if (info.state == "exited" || info.state == "dead") {
        fail(ErrorKind::check_failed, "container_exited",
             fmt::format("container {} exited with code {} before it was ready", new_name_,
                         info.exit_code));
      }
      if (Clock::now() >= deadline) {
        fail(ErrorKind::check_failed, "container_not_running",
             fmt::format("container {} is still '{}' after the deploy timeout", new_name_,
                         info.state));
      }
      pause(milliseconds(100));
    }
    step(Step::start, StepState::done, {{"name", new_name_}, {"elapsed_ms", ms_since(t)}});
    running_ = std::move(info);
  }

  // Where the new container listens: its IP on the deploy's network, or the loopback port it
  // was given on the host's network.
  void find_address() {
    const containers::ContainerInfo& info = running_;
    const std::string network = info.labels.count("handoff.network") != 0
                                    ? info.labels.at("handoff.network")
                                    : options_.network;
    const std::string port = info.labels.count("handoff.port") != 0 ? info.labels.at("handoff.port")
                                                                    : std::to_string(options_.port);
    if (network == "host") {
      address_ = "127.0.0.1:" + port;
    } else {
      auto ip = info.ips.find(network);
      if (ip == info.ips.end() || ip->second.empty()) {
        fail(ErrorKind::check_failed, "no_address",
             fmt::format("container {} has no IP address on network '{}'", new_name_, network));
      }
      address_ = ip->second + ":" + port;
    }
    step(Step::address, StepState::done, {{"address", address_}});
  }

  // The engine's verdict (for an image with a HEALTHCHECK), then the HTTP gate, both within
  // the deploy's one deadline.
  void pass_health_check() {
    const auto t = Clock::now();
    step(Step::health_check, StepState::started,
         {{"address", address_}, {"path", options_.swap.health.path}});
    wait_engine_healthy(t);
    pass_http_gate();
    step(Step::health_check, StepState::done, {{"elapsed_ms", ms_since(t)}});
  }

  void wait_engine_healthy(Clock::time_point t) {
    const auto deadline = deadline_;
    while (true) {
      containers::ContainerInfo info = engine_->inspect(new_id_);
      if (!info.running) {
        fail(ErrorKind::check_failed, "container_exited",
             fmt::format("container {} exited with code {} during the health check", new_name_,
                         info.exit_code));
      }
      if (info.health.empty() || info.health == "healthy") {
        break;
      }
      if (info.health == "unhealthy" || Clock::now() >= deadline) {
        fail(ErrorKind::check_failed, "health_check_failed",
             fmt::format("the engine reports container {} as {}", new_name_, info.health));
      }
      step(Step::health_check, StepState::running,
           {{"engine_health", info.health}, {"elapsed_ms", ms_since(t)}});
      pause(milliseconds(250));
    }
  }

  void pass_http_gate() {
    HealthCheckOptions gate = options_.swap.health;
    gate.timeout = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    if (gate.enabled) {
      // Stop probing as soon as the container is gone: its exit code says more than probes.
      auto exited = [this]() -> std::string {
        containers::ContainerInfo info = engine_->inspect(new_id_);
        return info.running
                   ? std::string()
                   : fmt::format("container {} exited with code {}", new_name_, info.exit_code);
      };
      std::string failure = run_health_gate(address_, gate, sink_, exited);
      if (sink_.stop_token().stop_requested()) {
        stop_for_shutdown();
      }
      if (!failure.empty()) {
        fail(ErrorKind::check_failed, "health_check_failed", failure);
      }
    }
  }

  // The switch: from here on the new container serves and is kept whatever happens next.
  void switch_over() {
    std::chrono::nanoseconds switch_time{};
    const std::string from = registry_.current_upstream(service_);
    old_upstream_ =
        registry_.swap(service_, address_, switch_time,
                       ContainerRef{new_id_, new_name_, new_image_}, [this] { cost_->switched(); });
    created_ = false;
    generation_ = registry_.next_generation(service_) - 1;
    switch_us_ = std::chrono::duration_cast<std::chrono::microseconds>(switch_time).count();
    step(Step::swap, StepState::done,
         {{"from", from}, {"to", address_}, {"switch_us", switch_us_}});
  }

  void drain_old() {
    const proxy::DrainResult drained =
        drain_step(registry_, server_, service_, old_upstream_, options_.swap.drain_timeout, sink_);
    drain_ms_ = drained.took.count();
    closed_ = drained.closed;
  }

  // Stops the container that was serving, and removes those beyond the --keep most recently
  // served (and any of the service's stopped containers the history does not name). Traffic is
  // already on the new version: a failure here is a warning, never a failed deploy.
  void retire_old() {
    const auto t = Clock::now();
    step(Step::retire, StepState::running, {{"name", old_.name}});
    if (!old_.id.empty()) {
      try {
        engine_->stop(old_.id, options_.stop_timeout);
      } catch (const containers::EngineError& e) {
        step(Step::retire, StepState::warning, {{"message", e.what()}});
      }
    }
    json::array removed;
    try {
      std::vector<std::string> gone;
      for (const ContainerRef& c : beyond_keep()) {
        engine_->remove(c.id);
        gone.push_back(c.id);
        removed.emplace_back(c.name);
      }
      registry_.forget_containers(service_, gone);
    } catch (const containers::EngineError& e) {
      step(Step::retire, StepState::warning, {{"message", e.what()}});
    }
    step(Step::retire, StepState::done,
         {{"stopped", old_.name}, {"removed", std::move(removed)}, {"elapsed_ms", ms_since(t)}});
  }

  // The containers to remove: the history past --keep, and stopped containers of the service
  // that neither serve nor are kept (left by a crash, or by an older handoff).
  std::vector<ContainerRef> beyond_keep() {
    const std::vector<ContainerRef> history = registry_.history(service_);
    const auto keep = static_cast<std::size_t>(std::max(options_.keep, 0));
    std::vector<ContainerRef> out(history.begin() + std::min(keep, history.size()), history.end());
    for (const auto& c : engine_->list("handoff.service=" + service_)) {
      const bool known =
          c.id == new_id_ ||
          std::any_of(history.begin(), history.end(), [&](const auto& h) { return h.id == c.id; });
      if (!known && c.state != "running") {
        out.push_back(ContainerRef{c.id, c.name, c.image});
      }
    }
    return out;
  }

  // Undoes a failed deploy: the new container goes away (a kept one is stopped again).
  void cleanup_new() {
    if (new_id_.empty()) {
      return;
    }
    try {
      if (created_) {
        engine_->remove(new_id_);
        step(Step::cleanup, StepState::done, {{"removed", new_name_}});
      } else if (new_id_ != registry_.container(service_).id) {
        engine_->stop(new_id_, options_.stop_timeout);
        step(Step::cleanup, StepState::done, {{"stopped", new_name_}});
      }
    } catch (const containers::EngineError& e) {
      step(Step::cleanup, StepState::warning, {{"message", e.what()}});
    }
  }

  ServiceRegistry& registry_;
  proxy::Server& server_;
  std::shared_ptr<containers::Engine> engine_;
  std::string service_;
  DeployOptions options_;
  EventSink& sink_;
  ContainerRef old_;
  std::string new_id_;
  std::string new_name_;
  std::string new_image_;
  bool created_ = false;
  std::uint64_t generation_ = 0;       // the upstream generation the switch made
  Clock::time_point deadline_;         // of the whole deploy (see run)
  containers::ContainerInfo running_;  // the new container, as it was once it ran
  std::string address_;
  std::shared_ptr<proxy::Upstream> old_upstream_;  // swapped out by switch_over
  std::int64_t switch_us_ = 0;
  std::int64_t drain_ms_ = 0;
  std::size_t closed_ = 0;
  std::optional<DeployCost> cost_;  // from the start of the steps
};

void validate(const DeployOptions& o) {
  if (o.image.empty()) {
    throw DomainError(ErrorKind::invalid, "missing_field", "an image is required");
  }
  for (const std::string& e : o.env) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw DomainError(ErrorKind::invalid, "bad_env",
                        fmt::format("bad env '{}': expected KEY=VALUE", e));
    }
    if (o.host_network && e.substr(0, eq) == "PORT") {
      throw DomainError(ErrorKind::invalid, "bad_env",
                        "with --host-network handoff sets PORT itself");
    }
  }
  if (o.port < 1 || o.port > 65535) {
    throw DomainError(ErrorKind::invalid, "bad_field", "port must be from 1 to 65535");
  }
  if (o.host_network == !o.network.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "give exactly one of --network NAME and --host-network");
  }
  if (o.keep < 0) {
    throw DomainError(ErrorKind::invalid, "bad_field", "keep must be 0 or more");
  }
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never") {
    throw DomainError(ErrorKind::invalid, "bad_field", "pull must be missing, always or never");
  }
}

}  // namespace

Operation prepare_deploy(ServiceRegistry& registry, proxy::Server& server,
                         const EngineFactory& engines, const std::string& service,
                         const DeployOptions& options) {
  validate(options);
  (void)registry.container(service);  // 404 for an unknown service before the engine is asked
  std::shared_ptr<containers::Engine> engine = reach_engine(engines);
  std::shared_ptr<void> claim = registry.claim(service);
  return [&registry, &server, engine, service, options, claim](EventSink& sink) {
    return ContainerSwitch(registry, server, engine, service, options, sink).deploy();
  };
}

Operation prepare_container_rollback(ServiceRegistry& registry, proxy::Server& server,
                                     const EngineFactory& engines, const std::string& service,
                                     const DeployOptions& options) {
  const ContainerRef current = registry.container(service);
  std::shared_ptr<containers::Engine> engine = reach_engine(engines);
  // The target is the container that served before the current one: the first of the history
  // that the engine still has.
  std::optional<containers::ContainerSummary> target;
  const auto existing = engine->list("handoff.service=" + service);
  for (const ContainerRef& kept : registry.history(service)) {
    auto it = std::find_if(existing.begin(), existing.end(),
                           [&](const auto& c) { return c.id == kept.id && c.id != current.id; });
    if (it != existing.end()) {
      target = *it;
      break;
    }
  }
  if (!target) {
    throw DomainError(ErrorKind::conflict, "nothing_to_roll_back",
                      fmt::format("no container that served '{}' before is kept for rollback "
                                  "(deploy with --keep 1 or more)",
                                  service));
  }
  std::shared_ptr<void> claim = registry.claim(service);
  return [&registry, &server, engine, service, options, claim, kept = *target](EventSink& sink) {
    return ContainerSwitch(registry, server, engine, service, options, sink).roll_back(kept);
  };
}

namespace {

// Brings the engine in line with the saved state for one service: containers labelled for it
// that neither serve nor are kept for rollback (a deploy cut short by a crash) are removed, and
// kept ones still running (a retire cut short) are stopped. Each change is reported.
void reconcile_service(ServiceRegistry& registry, containers::Engine& engine,
                       const std::string& service) {
  const ContainerRef current = registry.container(service);
  const std::vector<ContainerRef> history = registry.history(service);
  for (const auto& c : engine.list("handoff.service=" + service)) {
    if (c.id == current.id) {
      continue;
    }
    const bool kept = std::any_of(history.begin(), history.end(),
                                  [&](const ContainerRef& h) { return h.id == c.id; });
    try {
      if (!kept) {
        engine.remove(c.id);
        fmt::print(stderr,
                   "handoff: service {}: removed container {} (neither serving nor kept for "
                   "rollback; left by an interrupted deploy)\n",
                   service, c.name);
      } else if (c.state == "running") {
        engine.stop(c.id, std::chrono::seconds(10));
        fmt::print(stderr, "handoff: service {}: stopped container {} (kept for rollback)\n",
                   service, c.name);
      }
    } catch (const containers::EngineError& e) {
      fmt::print(stderr, "handoff: warning: service {}: container {}: {}\n", service, c.name,
                 e.what());
    }
  }
}

// Checks that the container a restored service routes to still runs.
void check_current(ServiceRegistry& registry, containers::Engine& engine,
                   const std::string& service, const ContainerRef& container) {
  std::string problem;
  try {
    containers::ContainerInfo info = engine.inspect(container.id);
    if (!info.running) {
      problem = fmt::format("container {} is {} (exit code {})", container.name, info.state,
                            info.exit_code);
    }
  } catch (const containers::EngineError& e) {
    problem = e.status() == 404 ? fmt::format("container {} is missing", container.name) : e.what();
  }
  if (!problem.empty()) {
    registry.set_container_problem(service, problem);
    fmt::print(stderr,
               "handoff: warning: service {}: {}; its requests will fail until the "
               "next deploy or rollback\n",
               service, problem);
  }
}

}  // namespace

void check_restored_containers(ServiceRegistry& registry, const EngineFactory& engines) {
  const auto deployed = registry.deployed();
  const auto services = registry.container_services();
  if (services.empty()) {
    return;  // no container was ever created: the engine is not needed (and may not exist)
  }
  std::shared_ptr<containers::Engine> engine;
  try {
    engine = std::shared_ptr<containers::Engine>(engines());
  } catch (const containers::EngineError& e) {
    fmt::print(stderr, "handoff: warning: cannot check the restored containers: {}\n", e.what());
    return;
  }
  for (const auto& name : services) {
    reconcile_service(registry, *engine, name);
  }
  for (const auto& [service, container] : deployed) {
    check_current(registry, *engine, service, container);
  }
}

}  // namespace handoff::control
