#include "control/workflows/container_switch.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <optional>

#include "control/base/domain_error.hpp"
#include "control/base/operation_runner.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/workflows/deploy_cost.hpp"
#include "control/workflows/drain_step.hpp"
#include "proxy/upstream/upstream_set.hpp"

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
// What an engine failure means: its 4xx say the input was bad (unknown image, name taken).
ErrorKind kind_of(const containers::EngineError& e) {
  return e.status() == 404 || e.status() == 409 || e.status() == 400 ? ErrorKind::invalid
         : e.status() == 0                                           ? ErrorKind::unavailable
                                                                     : ErrorKind::engine_failed;
}
/// A container a deploy or rollback brings in: one member of the new set.
struct Replica {
  std::string id;
  std::string name;
  std::string image;
  bool created = false;               // created by this deploy (removed again on failure)
  containers::ContainerInfo running;  // as it was once it ran
  std::string address;
};

}  // namespace

/// One run of the deploy or container-rollback steps for a set of replicas, all or nothing: a
/// step that fails for any replica throws StepFailure; `run` then removes the new containers
/// (when it created them) and reports the cause, and the old set serves on.
class ContainerSwitch::Steps {
 public:
  struct StepFailure {
    ErrorKind kind;
    std::string code;
    std::string message;
  };

  Steps(ServiceRegistry& registry, ServiceClaim& claim, proxy::Server& server,
        std::shared_ptr<containers::Engine> engine, DeployOptions options, EventSink& sink)
      : registry_(registry),
        claim_(claim),
        server_(server),
        engine_(std::move(engine)),
        service_(claim.service()),
        options_(std::move(options)),
        sink_(sink) {}

  /// The deploy, one line per step and replica (see Step).
  OperationResult deploy() {
    begin(options_.image);
    return run([this] {
      pull_image();
      for (int i = 0; i < options_.replicas; ++i) {
        create_new();
      }
      if (options_.swap.canary_share) {
        start_and_gate();
        start_canary();
      } else {
        bring_up();
      }
    });
  }

  /// The promotion of the running canary: one store makes it the serving set; the set that
  /// served drains and its containers are stopped (kept for rollback as after a deploy).
  OperationResult promote() {
    const auto canary = registry_.view(service_).canary;
    emit_begin(sink_, BeginEvent{.service = service_,
                                 .from = registry_.view(service_).upstream,
                                 .to = canary ? canary->set->addresses() : std::string()});
    return run([this] {
      const Switched done = claim_.promote_canary();
      old_upstream_ = done.retired;
      cost_->switched();
      switched_ = true;
      switch_us_ = std::chrono::duration_cast<std::chrono::microseconds>(done.took).count();
      step(StepState::done, SwapEvent{.from = done.from, .to = done.to, .switch_us = switch_us_});
      drain_old();
      if (engine_) {
        retire_old();
      } else {
        warn_engine_unreachable(old_);
      }
    });
  }

  /// The end of the running canary: its members leave, drain, and their containers are
  /// removed; the serving set is untouched.
  OperationResult drop_canary(const std::string& why) {
    const auto canary = registry_.view(service_).canary;
    const std::string from = canary ? canary->set->addresses() : std::string();
    emit_begin(
        sink_,
        BeginEvent{.service = service_, .from = from, .to = registry_.view(service_).upstream});
    return run([this, &why, &from] {
      std::vector<ContainerRef> leaving;
      const Switched done = claim_.drop_canary(leaving);
      old_upstream_ = done.retired;
      cost_->switched();
      switched_ = true;
      step(StepState::done, SwapEvent{.from = from, .to = done.to, .reason = why});
      drain_old();
      if (engine_) {
        remove_containers(leaving);
      } else {
        warn_engine_unreachable(leaving);
      }
    });
  }

  /// Resizes the serving set to `target` replicas without a new version: new ones are created
  /// like the serving ones and gated (all or nothing) before they join; dropped ones leave the
  /// set, drain and are removed.
  OperationResult scale(std::size_t target) {
    emit_begin(sink_,
               BeginEvent{.service = service_,
                          .from = fmt::format("{} replicas",
                                              registry_.view(service_).serving.containers.size()),
                          .to = fmt::format("{} replicas", target)});
    return run([this, target] {
      // Members whose containers stopped running are replaced, at the same count too.
      const std::vector<std::size_t> alive = running_members();
      const std::vector<std::size_t> keep(
          alive.begin(),
          alive.begin() + static_cast<std::ptrdiff_t>(std::min(target, alive.size())));
      if (keep.size() != old_.size() || target != old_.size()) {
        rebuild(keep, target - keep.size());
      }
    });
  }

  /// The rollback to a kept set of containers: the deploy's steps from start on.
  OperationResult roll_back(const std::vector<containers::ContainerSummary>& kept) {
    begin(kept.front().name);
    return run([&] {
      for (const auto& c : kept) {
        new_.push_back(Replica{c.id, c.name, c.image, false, {}, {}});  // stopped again on failure
      }
      bring_up();
    });
  }

 private:
  /// Undoes the new containers on every way out before the switch: whatever ends the steps (a
  /// failed step, an engine error, anything thrown), they do not stay behind.
  struct NewContainersGuard {
    Steps& run;
    ~NewContainersGuard() { run.cleanup_new(); }
  };

  // Starts every new replica, finds its address and gates them all.
  void start_and_gate() {
    for (Replica& r : new_) {
      start_new(r);
    }
    for (Replica& r : new_) {
      find_address(r);
    }
    pass_health_checks();
  }

  void bring_up() {
    start_and_gate();
    switch_over();
    drain_old();
    retire_old();
  }

  // The indexes of the serving members whose containers run (a container the engine no longer
  // knows is not running; an engine that cannot answer fails the scale).
  std::vector<std::size_t> running_members() {
    std::vector<std::size_t> alive;
    for (std::size_t i = 0; i < old_.size(); ++i) {
      try {
        if (engine_->inspect(old_[i].id).running) {
          alive.push_back(i);
        }
      } catch (const containers::EngineError& e) {
        if (e.status() != 404) {
          throw;
        }
      }
    }
    return alive;
  }

  // The scaled set: the members at `keep` stay as they are, `more` new ones are made and gated
  // (all or nothing) before they join; the rest leave the set with one store, drain and are
  // removed.
  void rebuild(const std::vector<std::size_t>& keep, std::size_t more) {
    for (std::size_t i = 0; i < more; ++i) {
      create_new();
    }
    if (more > 0) {
      start_and_gate();
    }
    std::vector<ContainerRef> leaving;
    for (std::size_t i = 0; i < old_.size(); ++i) {
      if (std::find(keep.begin(), keep.end(), i) == keep.end()) {
        leaving.push_back(old_[i]);
      }
    }
    const Switched done = claim_.resize(keep, {new_addresses(), new_containers()});
    old_upstream_ = done.retired;
    cost_->switched();
    switched_ = true;
    step(StepState::done, SwapEvent{.from = done.from, .to = done.to, .switch_us = 0});
    if (!leaving.empty()) {
      drain_old();
      remove_containers(leaving);
    }
  }

  // Containers that should have been stopped or removed, but the engine could not be reached:
  // traffic has moved all the same, and the next start reconciles them.
  void warn_engine_unreachable(const std::vector<ContainerRef>& left) {
    if (left.empty()) {
      return;
    }
    std::vector<std::string> names;
    for (const ContainerRef& c : left) {
      names.push_back(c.name);
    }
    step(StepState::warning,
         RetireEvent{.message =
                         fmt::format("the container engine is unreachable: {} left as they are "
                                     "(reconciled at the next start)",
                                     fmt::join(names, ", "))});
  }

  // Stops and removes containers that left the service for good (a scale down, a canary
  // rolled back). Traffic no longer goes there: a failure is a warning.
  void remove_containers(const std::vector<ContainerRef>& leaving) {
    std::vector<std::string> removed;
    for (const ContainerRef& c : leaving) {
      step(StepState::running, RetireEvent{.name = c.name});
      try {
        engine_->stop(c.id, options_.stop_timeout);
        engine_->remove(c.id);
        removed.emplace_back(c.name);
      } catch (const containers::EngineError& e) {
        step(StepState::warning, RetireEvent{.message = e.what()});
      }
    }
    step(StepState::done, RetireEvent{.stopped = "",
                                      .stopped_all = std::vector<std::string>{},
                                      .removed = std::move(removed)});
  }

  // The gated new set joins as the canary: from here on it serves its share and is kept.
  void start_canary() {
    claim_.start_canary({new_addresses(), new_containers()}, *options_.swap.canary_share,
                        options_.swap.canary_policy, spec_after_switch());
    cost_->switched();
    for (Replica& r : new_) {
      r.created = false;
    }
    switched_ = true;
    step(StepState::done,
         SwapEvent{.from = registry_.view(service_).upstream,
                   .to = addresses(),
                   .canary_percent = static_cast<double>(*options_.swap.canary_share) / 100.0});
  }

  template <typename Steps>
  OperationResult run(Steps&& steps) {
    const auto start = Clock::now();
    // One deadline for the whole deploy: starting, the engine's health and the HTTP gate share
    // it, so a 60 s timeout never becomes 120 s.
    deadline_ = start + options_.swap.health.timeout;
    old_ = registry_.view(service_).serving.containers;
    cost_.emplace(registry_.view(service_).service);
    try {
      NewContainersGuard guard{*this};
      steps();
    } catch (const StepFailure& f) {
      return with_cost(operation_error(f.kind, f.code, f.message), *cost_);
    } catch (const containers::EngineError& e) {
      return with_cost(operation_error(kind_of(e), "engine_error", e.what()), *cost_);
    } catch (const std::exception& e) {
      return with_cost(operation_error(ErrorKind::internal, "internal", e.what()), *cost_);
    }
    WorkflowResult result = serving_now();
    result.switch_us = switch_us_;
    result.drain_ms = drain_ms_;
    result.closed = closed_;
    result.elapsed_ms = ms_since(start);
    result.cost = cost_->report();
    return operation_done(result);
  }

  // What serves once the operation is done, as `status` shows it: the serving containers,
  // their addresses and generation, and the canary beside them when one runs.
  [[nodiscard]] WorkflowResult serving_now() const {
    const std::vector<ContainerRef> serving = registry_.view(service_).serving.containers;
    WorkflowResult result{
        .service = service_,
        .to = registry_.view(service_).upstream,
        .container = serving.empty() ? "" : serving.front().name,
        .containers = names_of(serving),
        .image = serving.empty() ? "" : serving.front().image,
        .replicas = static_cast<std::int64_t>(serving.size()),
        .generation = static_cast<std::int64_t>(registry_.view(service_).next_generation() - 1)};
    if (const auto canary = registry_.view(service_).canary) {
      result.canary = CanaryServing{.containers = names_of(canary->containers),
                                    .to = canary->set->addresses(),
                                    .percent = static_cast<double>(canary->share) / 100.0};
    }
    return result;
  }

  static std::vector<std::string> names_of(const std::vector<ContainerRef>& containers) {
    std::vector<std::string> names;
    for (const ContainerRef& c : containers) {
      names.push_back(c.name);
    }
    return names;
  }

  void begin(const std::string& to) {
    const std::vector<ContainerRef> current = registry_.view(service_).serving.containers;
    emit_begin(sink_, BeginEvent{.service = service_,
                                 .from = current.empty() ? registry_.view(service_).upstream
                                                         : current.front().name,
                                 .to = to});
  }

  template <typename Event>
  void step(StepState state, const Event& event) {
    emit_event(sink_, state, event);
  }

  // The new members' addresses, and the containers they run in, in member order.
  [[nodiscard]] std::vector<std::string> new_addresses() const {
    std::vector<std::string> out;
    for (const Replica& r : new_) {
      out.push_back(r.address);
    }
    return out;
  }
  [[nodiscard]] std::vector<ContainerRef> new_containers() const {
    std::vector<ContainerRef> out;
    for (const Replica& r : new_) {
      out.push_back(ContainerRef{r.id, r.name, r.image});
    }
    return out;
  }
  // The new members' addresses, comma-separated.
  [[nodiscard]] std::string addresses() const { return proxy::join_addresses(new_addresses()); }

  // A new container's last log lines, for a failure message.
  std::string tail(const Replica& r) {
    try {
      std::string logs = engine_->logs(r.id, kLogLines);
      while (!logs.empty() && logs.back() == '\n') {
        logs.pop_back();
      }
      return logs.empty() ? std::string() : "\nlast log lines of " + r.name + ":\n" + logs;
    } catch (const containers::EngineError&) {
      return {};
    }
  }

  // Waits between polls of the engine; a shutdown ends the wait and the deploy, before the
  // switch, as a failure (the new containers are removed, the old ones keep serving).
  void pause(milliseconds wait) {
    if (wait_unless_stopped(sink_.stop_token(), Clock::now() + wait)) {
      stop_for_shutdown();
    }
  }

  [[noreturn]] void stop_for_shutdown() {
    throw StepFailure{ErrorKind::unavailable, "shutting_down",
                      "handoff is shutting down: the deploy stopped before the switch"};
  }

  [[noreturn]] void fail(const Replica& r, ErrorKind kind, std::string code,
                         const std::string& message) {
    throw StepFailure{kind, std::move(code), message + tail(r)};
  }

  // Pulls the image when --pull says so. The deploy's deadline starts after the pull: how long
  // a download takes says nothing about the new version's health.
  void pull_image() {
    if (options_.pull != "always" && engine_->has_image(options_.image)) {
      return;
    }
    if (options_.pull == "never") {
      throw StepFailure{
          ErrorKind::invalid, "image_missing",
          fmt::format("image {} is not on the engine and --pull is never", options_.image)};
    }
    const auto t = Clock::now();
    step(StepState::running, PullEvent{.image = options_.image});
    auto last = Clock::now();
    const auto report = [&](const containers::PullProgress& p) {
      if (Clock::now() - last >= milliseconds(500)) {
        last = Clock::now();
        step(StepState::running, PullEvent{.layers = p.layers,
                                           .layers_done = p.layers_done,
                                           .bytes = p.bytes,
                                           .total_bytes = p.total_bytes,
                                           .elapsed_ms = ms_since(t)});
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
    step(StepState::done, PullEvent{.image = options_.image, .elapsed_ms = ms_since(t)});
    deadline_ = Clock::now() + options_.swap.health.timeout;
  }

  void create_new() {
    const std::uint64_t number = claim_.reserve_container_number();
    const std::string prefix = options_.name_prefix.empty() ? service_ : options_.name_prefix;
    Replica& r = new_.emplace_back();
    r.name = fmt::format("{}-{}", prefix, number);
    r.image = options_.image;
    containers::ContainerSpec spec;
    spec.name = r.name;
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
    step(StepState::running, CreateEvent{.name = r.name, .image = spec.image});
    r.id = engine_->create(spec);
    r.created = true;
    step(StepState::done,
         CreateEvent{.name = r.name, .id = r.id.substr(0, 12), .elapsed_ms = ms_since(t)});
  }

  // Starts a new container and waits until it runs; one that exits fails the deploy with its
  // exit code.
  void start_new(Replica& r) {
    const auto t = Clock::now();
    containers::ContainerInfo info = engine_->inspect(r.id);
    r.name = info.name;
    r.image = info.image;
    step(StepState::running, StartEvent{.name = r.name});
    engine_->start(r.id);
    while (true) {
      info = engine_->inspect(r.id);
      if (info.running) {
        break;
      }
      if (info.state == "exited" || info.state == "dead") {
        fail(r, ErrorKind::check_failed, "container_exited",
             fmt::format("container {} exited with code {} before it was ready", r.name,
                         info.exit_code));
      }
      if (Clock::now() >= deadline_) {
        fail(
            r, ErrorKind::check_failed, "container_not_running",
            fmt::format("container {} is still '{}' after the deploy timeout", r.name, info.state));
      }
      pause(milliseconds(100));
    }
    step(StepState::done, StartEvent{.name = r.name, .elapsed_ms = ms_since(t)});
    r.running = std::move(info);
  }

  // Where a new container listens: its IP on the deploy's network, or the loopback port it
  // was given on the host's network.
  void find_address(Replica& r) {
    const containers::ContainerInfo& info = r.running;
    const std::string network = info.labels.count("handoff.network") != 0
                                    ? info.labels.at("handoff.network")
                                    : options_.network;
    const std::string port = info.labels.count("handoff.port") != 0 ? info.labels.at("handoff.port")
                                                                    : std::to_string(options_.port);
    if (network == "host") {
      r.address = "127.0.0.1:" + port;
    } else {
      auto ip = info.ips.find(network);
      if (ip == info.ips.end() || ip->second.empty()) {
        fail(r, ErrorKind::check_failed, "no_address",
             fmt::format("container {} has no IP address on network '{}'", r.name, network));
      }
      r.address = ip->second + ":" + port;
    }
    step(StepState::done, AddressEvent{.name = r.name, .address = r.address});
  }

  // The engine's verdict (for an image with a HEALTHCHECK), then the HTTP gate of every
  // replica side by side, all within the deploy's one deadline.
  void pass_health_checks() {
    const auto t = Clock::now();
    step(StepState::started,
         HealthCheckEvent{.address = addresses(), .path = options_.swap.health.path});
    for (const Replica& r : new_) {
      wait_engine_healthy(r, t);
    }
    pass_http_gates();
    step(StepState::done, HealthCheckEvent{.elapsed_ms = ms_since(t)});
  }

  void wait_engine_healthy(const Replica& r, Clock::time_point t) {
    while (true) {
      containers::ContainerInfo info = engine_->inspect(r.id);
      if (!info.running) {
        fail(r, ErrorKind::check_failed, "container_exited",
             fmt::format("container {} exited with code {} during the health check", r.name,
                         info.exit_code));
      }
      if (info.health.empty() || info.health == "healthy") {
        break;
      }
      if (info.health == "unhealthy" || Clock::now() >= deadline_) {
        fail(r, ErrorKind::check_failed, "health_check_failed",
             fmt::format("the engine reports container {} as {}", r.name, info.health));
      }
      step(StepState::running,
           HealthCheckEvent{
               .name = r.name, .engine_health = info.health, .elapsed_ms = ms_since(t)});
      pause(milliseconds(250));
    }
  }

  void pass_http_gates() {
    HealthCheckOptions gate = options_.swap.health;
    gate.timeout = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    if (!gate.enabled) {
      return;
    }
    std::vector<std::string> addresses;
    std::vector<GiveUpCheck> exited;
    for (const Replica& r : new_) {
      addresses.push_back(r.address);
      // Stop probing as soon as the container is gone: its exit code says more than probes.
      exited.emplace_back([this, &r]() -> std::string {
        containers::ContainerInfo info = engine_->inspect(r.id);
        return info.running
                   ? std::string()
                   : fmt::format("container {} exited with code {}", r.name, info.exit_code);
      });
    }
    const std::string failure = run_health_gates(addresses, gate, sink_, exited);
    if (sink_.stop_token().stop_requested()) {
      stop_for_shutdown();
    }
    if (!failure.empty()) {
      const Replica* failed = &new_.front();
      for (const Replica& r : new_) {
        failed = failure.find(r.address) != std::string::npos ? &r : failed;
      }
      fail(*failed, ErrorKind::check_failed, "health_check_failed", failure);
    }
  }

  // The switch: from here on the new containers serve and are kept whatever happens next.
  void switch_over() {
    const Switched done = claim_.switch_to({new_addresses(), new_containers()},
                                           {watch_after(options_.swap.health), spec_after_switch()},
                                           [this] { cost_->switched(); });
    old_upstream_ = done.retired;
    for (Replica& r : new_) {
      r.created = false;
    }
    switched_ = true;
    switch_us_ = std::chrono::duration_cast<std::chrono::microseconds>(done.took).count();
    step(StepState::done, SwapEvent{.from = done.from, .to = done.to, .switch_us = switch_us_});
  }

  // How the service's containers are made from now on: as this deploy made them; after a
  // rollback, as before but with the kept set's image.
  [[nodiscard]] SavedDeploySpec spec_after_switch() const {
    SavedDeploySpec spec = registry_.view(service_).serving.deploy;
    if (options_.image.empty()) {
      spec.image = new_.front().image;
      return spec;
    }
    return SavedDeploySpec{options_.image,
                           options_.name_prefix.empty() ? service_ : options_.name_prefix,
                           options_.env,
                           options_.port,
                           options_.host_network ? "host" : options_.network,
                           options_.stop_timeout.count()};
  }

  void drain_old() {
    const proxy::DrainResult drained =
        drain_step(claim_, server_, old_upstream_, options_.swap.drain_timeout, sink_);
    drain_ms_ = drained.took.count();
    closed_ = drained.closed;
  }

  // Stops the containers that were serving, and removes the sets beyond the --keep most
  // recently served (and any of the service's stopped containers the history does not name).
  // Traffic is already on the new version: a failure here is a warning, never a failed deploy.
  void retire_old() {
    const auto t = Clock::now();
    std::vector<std::string> stopped;
    for (const ContainerRef& c : old_) {
      step(StepState::running, RetireEvent{.name = c.name});
      try {
        engine_->stop(c.id, options_.stop_timeout);
        stopped.emplace_back(c.name);
      } catch (const containers::EngineError& e) {
        step(StepState::warning, RetireEvent{.message = e.what()});
      }
    }
    std::vector<std::string> removed;
    try {
      std::vector<std::string> gone;
      for (const ContainerRef& c : beyond_keep()) {
        engine_->remove(c.id);
        gone.push_back(c.id);
        removed.emplace_back(c.name);
      }
      claim_.forget_containers(gone);
    } catch (const containers::EngineError& e) {
      step(StepState::warning, RetireEvent{.message = e.what()});
    }
    step(StepState::done, RetireEvent{.stopped = stopped.empty() ? "" : stopped.front(),
                                      .stopped_all = stopped,
                                      .removed = std::move(removed),
                                      .elapsed_ms = ms_since(t)});
  }

  // The containers to remove: the history's sets past --keep, and stopped containers of the
  // service that neither serve nor are kept (left by a crash, or by an older handoff).
  std::vector<ContainerRef> beyond_keep() {
    const auto history = registry_.view(service_).serving.earlier;
    const auto keep = static_cast<std::size_t>(std::max(options_.keep, 0));
    std::vector<ContainerRef> out;
    for (std::size_t i = std::min(keep, history.size()); i < history.size(); ++i) {
      out.insert(out.end(), history[i].begin(), history[i].end());
    }
    for (const auto& c : engine_->list("handoff.service=" + service_)) {
      const bool known =
          is_new(c.id) || std::any_of(history.begin(), history.end(), [&](const auto& set) {
            return std::any_of(set.begin(), set.end(),
                               [&](const ContainerRef& h) { return h.id == c.id; });
          });
      if (!known && c.state != "running") {
        out.push_back(ContainerRef{c.id, c.name, c.image});
      }
    }
    return out;
  }

  [[nodiscard]] bool is_new(const std::string& id) const {
    return std::any_of(new_.begin(), new_.end(), [&id](const Replica& r) { return r.id == id; });
  }

  // Undoes a failed deploy: the new containers go away (kept ones are stopped again).
  void cleanup_new() {
    if (switched_) {
      return;
    }
    for (const Replica& r : new_) {
      if (r.id.empty()) {
        continue;
      }
      try {
        if (r.created) {
          engine_->remove(r.id);
          step(StepState::done, CleanupEvent{.removed = r.name});
        } else {
          engine_->stop(r.id, options_.stop_timeout);
          step(StepState::done, CleanupEvent{.stopped = r.name});
        }
      } catch (const containers::EngineError& e) {
        step(StepState::warning, CleanupEvent{.message = e.what()});
      }
    }
  }

  ServiceRegistry& registry_;  // what the steps read; they change the service through claim_
  ServiceClaim& claim_;
  proxy::Server& server_;
  std::shared_ptr<containers::Engine> engine_;
  const std::string service_;
  DeployOptions options_;
  EventSink& sink_;
  std::vector<ContainerRef> old_;  // the containers serving when the steps began
  std::vector<Replica> new_;
  bool switched_ = false;
  Clock::time_point deadline_;                                  // of the whole deploy (see run)
  std::vector<std::shared_ptr<proxy::Upstream>> old_upstream_;  // retired by switch_over
  std::int64_t switch_us_ = 0;
  std::int64_t drain_ms_ = 0;
  std::size_t closed_ = 0;
  std::optional<DeployCost> cost_;  // from the start of the steps
};

ContainerSwitch::ContainerSwitch(ServiceRegistry& registry, ServiceClaim& claim,
                                 proxy::Server& server, std::shared_ptr<containers::Engine> engine,
                                 DeployOptions options, EventSink& sink)
    : steps_(std::make_unique<Steps>(registry, claim, server, std::move(engine), std::move(options),
                                     sink)) {}

ContainerSwitch::~ContainerSwitch() = default;

OperationResult ContainerSwitch::deploy() {
  return steps_->deploy();
}

OperationResult ContainerSwitch::scale(std::size_t target) {
  return steps_->scale(target);
}

OperationResult ContainerSwitch::roll_back(const std::vector<containers::ContainerSummary>& kept) {
  return steps_->roll_back(kept);
}

OperationResult ContainerSwitch::promote() {
  return steps_->promote();
}

OperationResult ContainerSwitch::drop_canary(const std::string& why) {
  return steps_->drop_canary(why);
}

}  // namespace handoff::control
