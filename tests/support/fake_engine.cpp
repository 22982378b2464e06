#include "tests/support/fake_engine.hpp"

#include <fmt/format.h>

#include <set>
#include <thread>

namespace handoff::test {

using containers::EngineError;

FakeEngine::FakeEngine() : state_(std::make_shared<State>()) {}

control::EngineFactory FakeEngine::factory() const {
  return [copy = *this] { return std::make_unique<FakeEngine>(copy); };
}

void FakeEngine::add_image(const std::string& image, bool in_registry) {
  std::lock_guard lock(state_->mutex);
  (in_registry ? state_->registry : state_->images).insert(image);
}

void FakeEngine::set_fault_on_create(int nth, EngineFault fault) {
  std::lock_guard lock(state_->mutex);
  state_->creates_until_fault = nth;
  state_->fault_on_create = fault;
}

void FakeEngine::set_fault(EngineFault fault) {
  std::lock_guard lock(state_->mutex);
  state_->fault = fault;
}

void FakeEngine::set_delays(std::chrono::milliseconds to_running,
                            std::chrono::milliseconds to_healthy) {
  std::lock_guard lock(state_->mutex);
  state_->to_running = to_running;
  state_->to_healthy = to_healthy;
}

std::map<std::string, std::string> FakeEngine::containers() const {
  std::lock_guard lock(state_->mutex);
  std::map<std::string, std::string> out;
  for (const auto& [id, c] : state_->containers) {
    out[c.spec.name] = c.state;
  }
  return out;
}

int FakeEngine::calls(const std::string& name) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->calls.find(name);
  return it == state_->calls.end() ? 0 : it->second;
}

FakeEngine::Container& FakeEngine::find(const std::string& id) {
  auto it = state_->containers.find(id);
  if (it == state_->containers.end()) {
    throw EngineError(404, fmt::format("No such container: {}", id));
  }
  return it->second;
}

void FakeEngine::count(const std::string& call) {
  ++state_->calls[call];
}

bool FakeEngine::has_image(const std::string& image) {
  std::lock_guard lock(state_->mutex);
  count("has_image");
  return state_->images.count(image) != 0;
}

void FakeEngine::pull(const std::string& image, const std::string& /*registry_auth*/,
                      const std::function<void(const containers::PullProgress&)>& progress,
                      const std::function<bool()>& keep_going) {
  bool hangs = false;
  {
    std::lock_guard lock(state_->mutex);
    hangs = state_->fault == EngineFault::pull_hangs;
  }
  if (hangs) {
    while (keep_going()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw EngineError(0, fmt::format("the pull of {} was stopped", image));
  }
  std::lock_guard lock(state_->mutex);
  count("pull");
  if (state_->fault == EngineFault::pull_fails || state_->registry.count(image) == 0) {
    throw EngineError(404, fmt::format("manifest for {} not found", image));
  }
  progress(containers::PullProgress{1, 1, 100, 100});
  state_->images.insert(image);
}

std::string FakeEngine::create(const containers::ContainerSpec& spec) {
  std::lock_guard lock(state_->mutex);
  count("create");
  if (state_->fault == EngineFault::create_fails) {
    throw EngineError(500, "no space left on device");
  }
  if (state_->images.count(spec.image) == 0) {
    throw EngineError(404, fmt::format("No such image: {}", spec.image));
  }
  for (const auto& [id, c] : state_->containers) {
    if (c.spec.name == spec.name) {
      throw EngineError(
          409, fmt::format("Conflict. The container name \"/{}\" is already in use", spec.name));
    }
  }
  const std::string id = fmt::format("{:064x}", state_->next_id++);
  Container& c = state_->containers[id];
  c.spec = spec;
  c.fault = state_->fault;
  if (state_->creates_until_fault > 0 && --state_->creates_until_fault == 0) {
    c.fault = state_->fault_on_create;
  }
  return id;
}

void FakeEngine::start(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  count("start");
  Container& c = find(id);
  if (state_->fault == EngineFault::start_fails) {
    throw EngineError(500, "cannot start container: permission denied");
  }
  if (c.state == "running") {
    return;
  }
  c.state = "running";
  c.started = Clock::now();
  c.output += c.spec.name + " started\n";
  std::uint16_t port = 0;
  for (const std::string& e : c.spec.env) {
    if (e.rfind("PORT=", 0) == 0) {
      port = static_cast<std::uint16_t>(std::stoi(e.substr(5)));
    }
  }
  const bool sick =
      c.fault == EngineFault::app_unhealthy || state_->fault == EngineFault::app_unhealthy;
  const int status = sick ? 503 : 200;
  const std::string body = c.spec.image;
  c.app = std::make_unique<TestBackend>(
      [status, body](BackendConnection& conn, TestBackend&) {
        while (conn.read_request()) {
          conn.send(fmt::format("HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n{}", status,
                                body.size(), body));
        }
      },
      port);
}

containers::ContainerInfo FakeEngine::inspect(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  count("inspect");
  Container& c = find(id);
  containers::ContainerInfo info{id, c.spec.name, c.spec.image,  c.state,    false,
                                 0,  "",          c.spec.labels, c.spec.env, {}};
  if (c.state != "running") {
    return info;
  }
  const auto up = Clock::now() - c.started;
  if (c.fault == EngineFault::exits_at_start) {
    c.state = info.state = "exited";
    info.exit_code = 3;
    return info;
  }
  if (c.fault == EngineFault::never_runs || up < state_->to_running) {
    info.state = "created";
    return info;
  }
  info.running = true;
  if (c.fault == EngineFault::engine_unhealthy) {
    info.health = "unhealthy";
  } else if (c.fault == EngineFault::never_healthy) {
    info.health = "starting";
  } else if (state_->to_healthy.count() > 0) {
    info.health = up < state_->to_running + state_->to_healthy ? "starting" : "healthy";
  }
  return info;
}

void FakeEngine::stop(const std::string& id, std::chrono::seconds /*timeout*/) {
  std::unique_ptr<TestBackend> app;  // stopped outside the lock: it joins its threads
  {
    std::lock_guard lock(state_->mutex);
    count("stop");
    if (state_->fault == EngineFault::stop_fails) {
      throw EngineError(500, "cannot stop container: the engine timed out");
    }
    Container& c = find(id);
    if (c.state == "running") {
      c.output += c.spec.name + " stopped\n";
      c.state = "exited";
    }
    app = std::move(c.app);
  }
}

void FakeEngine::remove(const std::string& id) {
  std::unique_ptr<TestBackend> app;
  {
    std::lock_guard lock(state_->mutex);
    count("remove");
    if (state_->fault == EngineFault::remove_fails) {
      throw EngineError(500, "cannot remove container: device or resource busy");
    }
    app = std::move(find(id).app);
    state_->containers.erase(id);
  }
}

std::vector<containers::ContainerSummary> FakeEngine::list(const std::string& label) {
  std::lock_guard lock(state_->mutex);
  count("list");
  const auto eq = label.find('=');
  const std::string key = label.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : label.substr(eq + 1);
  std::vector<containers::ContainerSummary> out;
  for (const auto& [id, c] : state_->containers) {
    auto it = c.spec.labels.find(key);
    if (it != c.spec.labels.end() && (eq == std::string::npos || it->second == value)) {
      out.push_back({id, c.spec.name, c.spec.image, c.state, c.spec.labels});
    }
  }
  return out;
}

std::string FakeEngine::last_lines(const std::string& text, int lines) {
  if (lines < 0) {
    return text;
  }
  std::size_t start = text.size();
  for (int n = 0; n <= lines && start > 0; ++n) {
    start = text.rfind('\n', start - 1);
    if (start == std::string::npos) {
      return text;
    }
  }
  return text.substr(start + 1);
}

std::string FakeEngine::logs(const std::string& id, int lines) {
  std::lock_guard lock(state_->mutex);
  count("logs");
  return last_lines(find(id).output, lines);
}

void FakeEngine::follow_logs(const std::string& id, int lines,
                             const std::function<void(std::string_view)>& output,
                             const std::function<bool()>& keep_going) {
  std::size_t sent = 0;
  for (bool first = true;; first = false) {
    std::string text;
    bool running = false;
    {
      std::lock_guard lock(state_->mutex);
      if (first) {
        count("follow_logs");
      }
      auto it = state_->containers.find(id);
      if (it == state_->containers.end()) {
        if (first) {
          throw EngineError(404, fmt::format("No such container: {}", id));
        }
        return;  // removed: its stream ends
      }
      const std::string& all = it->second.output;
      text = first ? last_lines(all, lines) : all.substr(sent);
      sent = all.size();
      running = it->second.state == "running";
    }
    if (!text.empty()) {
      output(text);
    }
    if (!running || !keep_going()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FakeEngine::say(const std::string& name, const std::string& line) {
  std::lock_guard lock(state_->mutex);
  for (auto& [id, c] : state_->containers) {
    if (c.spec.name == name) {
      c.output += line + "\n";
    }
  }
}

void FakeEngine::kill(const std::string& name) {
  std::lock_guard lock(state_->mutex);
  for (auto& [id, c] : state_->containers) {
    if (c.spec.name == name) {
      c.state = "exited";
      c.app.reset();
    }
  }
}

void FakeEngine::watch_deaths(const std::string& label, std::int64_t /*since*/,
                              const std::function<void(const std::string& id)>& died,
                              const std::function<bool()>& keep_going) {
  std::set<std::string> running;
  while (keep_going()) {
    std::vector<std::string> gone;
    {
      std::lock_guard lock(state_->mutex);
      count("watch_deaths_scan");
      for (const auto& [id, c] : state_->containers) {
        if (c.spec.labels.count(label) == 0) {
          continue;
        }
        if (c.state == "running") {
          running.insert(id);
        } else if (running.erase(id) != 0) {
          gone.push_back(id);
        }
      }
    }
    for (const auto& id : gone) {
      died(id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace handoff::test
