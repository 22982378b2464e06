#include "control/swarm/swarm_deploy.hpp"

#include <fmt/format.h>
#include <strings.h>

#include <algorithm>
#include <set>

#include "control/base/domain_error.hpp"
#include "control/base/operation_runner.hpp"
#include "control/health/health_check.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/swarm/swarm_members.hpp"

namespace handoff::control {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// The handoff.version label of a Swarm service (0 when it has none).
std::int64_t version_of(const containers::SwarmService& s) {
  const auto it = s.labels.find("handoff.version");
  try {
    return it == s.labels.end() ? 0 : std::stoll(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

// A step that failed: the deploy ends with this error (after its cleanup).
struct Failed {
  ErrorKind kind;
  std::string code;
  std::string message;
};

// What a run brings into service: a new version, or the kept version that served before.
enum class Target : std::uint8_t { new_version, previous_version };

// One deploy's or rollback's steps, top to bottom (see prepare_swarm_deploy).
class SwarmDeploy {
 public:
  SwarmDeploy(SwarmFollower& follower, std::unique_ptr<containers::DockerEngine> engine,
              std::string service, std::vector<std::string> hosts, DeployOptions options,
              Target target, EventSink& sink)
      : target_(target),
        follower_(follower),
        engine_(std::move(engine)),
        swarm_(*engine_),
        service_(std::move(service)),
        hosts_(std::move(hosts)),
        options_(std::move(options)),
        sink_(sink) {}

  OperationResult run() {
    const auto start = Clock::now();
    try {
      read_current();
      if (target_ == Target::previous_version) {
        pick_previous();
      }
      emit_begin(sink_, BeginEvent{.service = service_, .from = current_name(), .to = new_name()});
      if (target_ == Target::new_version) {
        wait_side_clear();
        create_version();
      } else {
        start_previous();
      }
      wait_running();
      gate();
    } catch (const Failed& f) {
      remove_new();
      return operation_error(f.kind, f.code, f.message);
    } catch (const std::exception& e) {
      remove_new();
      return operation_error(ErrorKind::engine_failed, "engine_error", e.what());
    }
    try {
      record();
    } catch (const DomainError& e) {
      remove_new();
      return operation_error(e.kind(), e.code(), e.what());
    }
    wait_drain();
    retire();
    return operation_done(WorkflowResult{.service = service_,
                                         .from = current_name(),
                                         .to = new_name(),
                                         .replicas = options_.replicas,
                                         .generation = next_.generation,
                                         .elapsed_ms = ms_since(start)});
  }

 private:
  // The record and the versions there are; a version newer than any record names is what a
  // deploy that failed or was killed left: removed now.
  void read_current() {
    auto records = read_records(swarm_);
    if (auto it = records.find(service_); it != records.end()) {
      current_ = it->second;
    } else {
      check_hosts_free(records);
    }
    const std::int64_t serving = current_ ? current_->version.value_or(0) : 0;
    const std::int64_t recorded = newest_recorded_version(swarm_, service_);
    std::int64_t newest = recorded;
    for (const containers::SwarmService& s : swarm_.services("handoff.service=" + service_)) {
      const std::int64_t v = version_of(s);
      newest = std::max(newest, v);
      if (v > recorded) {
        swarm_.remove_service(s.id);
      } else {
        versions_.push_back(s);
      }
    }
    // The new version runs beside the serving one on the same nodes: on the other side.
    version_ = newest + 1;
    if (serving != 0 && side_of(version_) == side_of(serving)) {
      version_ += 1;
    }
    if (!current_ && hosts_.empty() && service_ != "default") {
      throw Failed{ErrorKind::invalid, "missing_field",
                   fmt::format("service '{}' is new to the swarm: give --host, the names it "
                               "answers",
                               service_)};
    }
    if (options_.task_port.empty() && current_) {
      options_.task_port = current_->task_port.value_or("");
    }
    if (options_.task_port.empty()) {
      throw Failed{ErrorKind::invalid, "bad_field",
                   "a deploy on a swarm needs --task-port: each task listens on its own port of "
                   "its node, e.g. '19{{.Handoff.Side}}{{.Task.Slot}}0'"};
    }

    if (options_.replicas == 0) {  // as many as serve now, or one
      const auto serving = std::find_if(versions_.begin(), versions_.end(),
                                        [&](const auto& s) { return s.name == current_name(); });
      options_.replicas = serving != versions_.end() ? static_cast<int>(serving->replicas) : 0;
    }
    options_.replicas = std::max(options_.replicas, 1);
    if (std::string problem = task_port_problem(options_.task_port, options_.replicas);
        !problem.empty()) {
      throw Failed{ErrorKind::invalid, "bad_field", problem};
    }
  }

  // A new service's hosts are no other service's on the swarm: every node would refuse it.
  void check_hosts_free(const std::map<std::string, SwarmRecord>& records) const {
    for (const auto& [name, record] : records) {
      for (const std::string& host : record.hosts.value_or(std::vector<std::string>{})) {
        const bool taken = std::any_of(hosts_.begin(), hosts_.end(), [&](const auto& h) {
          return strcasecmp(h.c_str(), host.c_str()) == 0;
        });
        if (taken) {
          throw Failed{
              ErrorKind::conflict, "host_taken",
              fmt::format("host '{}' already routes to service '{}' on the swarm", host, name)};
        }
      }
    }
  }

  std::string current_name() const { return current_ ? current_->serving.value_or("") : ""; }
  std::string new_name() const {
    if (target_ == Target::previous_version) {
      return previous_.name;
    }
    return fmt::format("{}-v{}", options_.name_prefix.empty() ? service_ : options_.name_prefix,
                       version_);
  }

  // The version that served before: the newest kept one.
  void pick_previous() {
    if (!current_) {
      throw Failed{ErrorKind::not_found, "unknown_service",
                   fmt::format("the swarm has no service '{}'", service_)};
    }
    std::sort(versions_.begin(), versions_.end(),
              [](const auto& a, const auto& b) { return version_of(a) > version_of(b); });
    const auto it = std::find_if(versions_.begin(), versions_.end(),
                                 [&](const auto& s) { return s.name != current_name(); });
    if (it == versions_.end()) {
      throw Failed{
          ErrorKind::conflict, "nothing_to_roll_back",
          fmt::format("no version of '{}' is kept to roll back to (deploy --keep)", service_)};
    }
    previous_ = *it;
    version_ = version_of(previous_);
  }

  // Brings the kept version back to as many tasks as serve now.
  void start_previous() {
    if (previous_.replicas != 0) {  // left running by a run cut short after its switch
      swarm_.scale_service(previous_.id, 0);
    }
    wait_stopped(previous_);  // its tasks of before, scaled to zero a moment ago, are gone
    for (const containers::SwarmTask& t : swarm_.tasks(previous_.id)) {
      earlier_tasks_.insert(t.id);  // what they did is not this rollback's doing
    }
    emit_event(sink_, StepState::running, StartEvent{.name = previous_.name});
    swarm_.scale_service(previous_.id, options_.replicas);
    new_id_ = previous_.id;
  }

  // The tasks of a kept version on the new version's side (scaled to zero by the deploy before
  // last) have stopped: their ports are the new tasks' ports. One that still runs (a deploy cut
  // short before it retired it) serves no node: it is scaled to zero now.
  void wait_side_clear() {
    for (const containers::SwarmService& s : versions_) {
      if (side_of(version_of(s)) != side_of(version_) || s.name == current_name()) {
        continue;
      }
      if (s.replicas != 0) {
        swarm_.scale_service(s.id, 0);
      }
      wait_stopped(s);
    }
  }

  // Waits until no task of `s` runs (a version scaled to zero stops its tasks in a moment).
  void wait_stopped(const containers::SwarmService& s) {
    const auto deadline = Clock::now() + options_.swap.health.timeout;
    while (true) {
      const auto tasks = swarm_.tasks(s.id);
      if (std::none_of(tasks.begin(), tasks.end(), [](const auto& t) {
            return t.state == "running" || t.state == "starting";
          })) {
        return;
      }
      if (Clock::now() >= deadline) {
        throw Failed{
            ErrorKind::check_failed, "port_busy",
            fmt::format("the tasks of {} still run on the ports {} needs", s.name, new_name())};
      }
      if (wait_unless_stopped(sink_.stop_token(), Clock::now() + milliseconds(100))) {
        throw Failed{ErrorKind::unavailable, "shutting_down", "handoff is shutting down"};
      }
    }
  }

  void create_version() {
    const auto t = Clock::now();
    emit_event(sink_, StepState::running, CreateEvent{.name = new_name(), .image = options_.image});
    containers::SwarmServiceSpec spec{
        .name = new_name(),
        .image = options_.image,
        .env = options_.env,
        .labels = {{"handoff.service", service_}, {"handoff.version", std::to_string(version_)}},
        .replicas = options_.replicas,
        .stop_grace = options_.stop_timeout};
    spec.env.push_back("PORT=" + version_port(options_.task_port, version_));
    new_id_ = swarm_.create_service(spec);
    emit_event(
        sink_, StepState::done,
        CreateEvent{.name = new_name(), .id = new_id_.substr(0, 12), .elapsed_ms = ms_since(t)});
  }

  // Waits until every task runs; a task that failed or was rejected fails the deploy with the
  // scheduler's words.
  void wait_running() {
    const auto t = Clock::now();
    const auto deadline = t + options_.swap.health.timeout;
    while (true) {
      const auto tasks = new_tasks();
      const auto running = std::count_if(tasks.begin(), tasks.end(), [](const auto& task) {
        return task.state == "running" && task.desired_state == "running";
      });
      if (std::string failed = failed_task(tasks); !failed.empty()) {
        throw Failed{ErrorKind::check_failed, "task_failed", failed};
      }
      if (running >= options_.replicas) {
        break;
      }
      if (Clock::now() >= deadline) {
        throw Failed{ErrorKind::check_failed, "not_running",
                     fmt::format("{} of {} tasks of {} run after {} ms", running, options_.replicas,
                                 new_name(), ms_since(t))};
      }
      if (wait_unless_stopped(sink_.stop_token(), Clock::now() + milliseconds(250))) {
        throw Failed{ErrorKind::unavailable, "shutting_down", "handoff is shutting down"};
      }
    }
    emit_event(sink_, StepState::done, StartEvent{.name = new_name(), .elapsed_ms = ms_since(t)});
  }

  // This attempt's tasks of the version it brings into service.
  std::vector<containers::SwarmTask> new_tasks() {
    auto tasks = swarm_.tasks(new_id_);
    std::erase_if(tasks, [&](const auto& task) { return earlier_tasks_.count(task.id) != 0; });
    return tasks;
  }

  // What a task that failed or was refused said ("" when none did).
  std::string failed_task(const std::vector<containers::SwarmTask>& tasks) const {
    for (const containers::SwarmTask& task : tasks) {
      if (task.state == "failed" || task.state == "rejected") {
        return fmt::format("a task of {} {}: {}", new_name(), task.state, task.message);
      }
    }
    return {};
  }

  void gate() {
    addresses_.clear();
    for (const TaskAddress& t : serving_tasks(swarm_.tasks(new_id_), swarm_.nodes(),
                                              version_port(options_.task_port, version_))) {
      addresses_.push_back(t.address);
    }
    for (const std::string& a : addresses_) {
      emit_event(sink_, StepState::done, AddressEvent{.name = new_name(), .address = a});
    }
    if (!options_.swap.health.enabled) {
      return;
    }
    const auto t = Clock::now();
    emit_event(sink_, StepState::started, HealthCheckEvent{.path = options_.swap.health.path});
    // A task that exits while it is gated (it ran for a moment) ends the gate with its words.
    const GiveUpCheck task_failed = [this] {
      try {
        return failed_task(new_tasks());
      } catch (const containers::EngineError&) {
        return std::string();  // the gate goes on; its own deadline still holds
      }
    };
    const std::vector<GiveUpCheck> give_up(addresses_.size(), task_failed);
    if (std::string failure = run_health_gates(addresses_, options_.swap.health, sink_, give_up);
        !failure.empty()) {
      throw Failed{ErrorKind::check_failed, "health_check_failed", failure};
    }
    emit_event(sink_, StepState::done, HealthCheckEvent{.elapsed_ms = ms_since(t)});
  }

  // The switch: the next record names the new version; this node follows it at once, the
  // others within their next look.
  void record() {
    next_ = SwarmRecord{.service = service_,
                        .generation = (current_ ? current_->generation.value_or(0) : 0) + 1,
                        .hosts = current_ && current_->hosts ? *current_->hosts : hosts_,
                        .serving = new_name(),
                        .version = version_,
                        .task_port = options_.task_port,
                        .drain_timeout_ms = options_.swap.drain_timeout.count(),
                        .health_path = options_.swap.health.path};
    write_record(swarm_, next_);
    try {
      follower_.sync();
    } catch (const std::exception& e) {
      fmt::print(stderr, "handoff: swarm: this node follows the record at its next look: {}\n",
                 e.what());
    }
    emit_event(sink_, StepState::done, SwapEvent{.from = current_name(), .to = new_name()});
  }

  // Every node drains the old version on its own; by the drain timeout (and two looks' time
  // more) every one has. A first version waits the two looks: when the deploy returns, every
  // node serves it.
  void wait_drain() {
    const auto t = Clock::now();
    if (current_name().empty()) {  // nothing drains; every node serves the new version first
      wait_unless_stopped(sink_.stop_token(), t + 2 * SwarmFollower::kInterval);
      return;
    }
    const milliseconds wait = options_.swap.drain_timeout + 2 * SwarmFollower::kInterval;
    emit_event(sink_, StepState::started,
               DrainEvent{.upstream = current_name(), .timeout_ms = wait.count()});
    wait_unless_stopped(sink_.stop_token(), t + wait);
    emit_event(sink_, StepState::done, DrainEvent{.elapsed_ms = ms_since(t)});
  }

  // The old version is scaled to zero and kept; versions beyond --keep are removed.
  void retire() {
    const auto t = Clock::now();
    std::vector<std::string> stopped;
    std::vector<std::string> removed;
    std::erase_if(versions_, [&](const auto& s) { return s.id == new_id_; });  // it serves now
    std::sort(versions_.begin(), versions_.end(),
              [](const auto& a, const auto& b) { return version_of(a) > version_of(b); });
    try {
      for (std::size_t i = 0; i < versions_.size(); ++i) {
        if (static_cast<int>(i) < options_.keep) {
          if (versions_[i].replicas != 0) {
            swarm_.scale_service(versions_[i].id, 0);
            stopped.push_back(versions_[i].name);
          }
        } else {
          swarm_.remove_service(versions_[i].id);
          removed.push_back(versions_[i].name);
        }
      }
    } catch (const containers::EngineError& e) {
      emit_event(sink_, StepState::warning, RetireEvent{.message = e.what()});
    }
    prune_records(swarm_, service_, 10);
    emit_event(sink_, StepState::done,
               RetireEvent{.stopped = stopped.empty() ? "" : stopped.front(),
                           .stopped_all = stopped,
                           .removed = removed,
                           .elapsed_ms = ms_since(t)});
  }

  void remove_new() {
    if (new_id_.empty()) {
      return;
    }
    try {
      if (target_ == Target::previous_version) {  // kept as it was: scaled to zero
        swarm_.scale_service(new_id_, 0);
        emit_event(sink_, StepState::done, CleanupEvent{.stopped = new_name()});
        return;
      }
      swarm_.remove_service(new_id_);
      emit_event(sink_, StepState::done, CleanupEvent{.removed = new_name()});
    } catch (const containers::EngineError& e) {
      emit_event(sink_, StepState::warning, CleanupEvent{.message = e.what()});
    }
  }

  const Target target_;
  SwarmFollower& follower_;
  std::unique_ptr<containers::DockerEngine> engine_;
  containers::DockerSwarm swarm_;
  const std::string service_;
  const std::vector<std::string> hosts_;
  DeployOptions options_;
  EventSink& sink_;
  std::optional<SwarmRecord> current_;
  std::vector<containers::SwarmService> versions_;  // the kept ones, the serving one among them
  std::int64_t version_ = 1;
  containers::SwarmService previous_;    // a rollback's target
  std::set<std::string> earlier_tasks_;  // its tasks from when it served before
  std::string new_id_;
  std::vector<std::string> addresses_;
  SwarmRecord next_;
};

}  // namespace

namespace {

// Reaches the swarm's manager; 503 when it cannot be, or is no manager.
std::shared_ptr<std::unique_ptr<containers::DockerEngine>> reach_manager(
    const SwarmEngineFactory& engines) {
  try {
    auto engine = engines();
    if (!containers::DockerSwarm(*engine).is_manager()) {
      throw DomainError(ErrorKind::unavailable, "not_a_manager",
                        "the engine is not a manager of a swarm: deploy through a manager "
                        "node's handoff");
    }
    return std::make_shared<std::unique_ptr<containers::DockerEngine>>(std::move(engine));
  } catch (const containers::EngineError& e) {
    throw DomainError(ErrorKind::unavailable, "engine_unreachable", e.what());
  }
}

}  // namespace

Operation prepare_swarm_deploy(SwarmFollower& follower, const SwarmEngineFactory& engines,
                               const std::string& service, const std::vector<std::string>& hosts,
                               DeployOptions options) {
  if (options.image.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'image' is required");
  }
  auto shared = reach_manager(engines);
  return [&follower, shared, service, hosts, options](EventSink& sink) {
    return SwarmDeploy(follower, std::move(*shared), service, hosts, options, Target::new_version,
                       sink)
        .run();
  };
}

Operation prepare_swarm_rollback(SwarmFollower& follower, const SwarmEngineFactory& engines,
                                 const std::string& service, DeployOptions options) {
  auto shared = reach_manager(engines);
  return [&follower, shared, service, options](EventSink& sink) {
    return SwarmDeploy(follower, std::move(*shared), service, {}, options, Target::previous_version,
                       sink)
        .run();
  };
}

}  // namespace handoff::control
