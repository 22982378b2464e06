#include "control/upgrade/successor_container.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "control/upgrade/successor_process.hpp"
#include "control/upgrade/takeover.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

constexpr int kLastLines = 20;

const json::object& object_at(const json::object& o, std::string_view key) {
  static const json::object empty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->as_object() : empty;
}

// The command with `--takeover` once at its end.
json::array takeover_command(const json::object& config) {
  json::array command;
  if (const json::value* cmd = config.if_contains("Cmd"); cmd != nullptr && cmd->is_array()) {
    for (const json::value& arg : cmd->as_array()) {
      if (!(arg.is_string() && arg.as_string() == "--takeover")) {
        command.push_back(arg);
      }
    }
  }
  command.emplace_back("--takeover");
  return command;
}

// The environment with this successor's token instead of any other.
json::array takeover_environment(const json::object& config, const std::string& token) {
  const std::string prefix = fmt::format("{}=", kTakeoverTokenVariable);
  json::array env;
  if (const json::value* e = config.if_contains("Env"); e != nullptr && e->is_array()) {
    for (const json::value& entry : e->as_array()) {
      if (entry.is_string() && !std::string_view(entry.as_string()).starts_with(prefix)) {
        env.push_back(entry);
      }
    }
  }
  env.emplace_back(prefix + token);
  return env;
}

// Anonymous volumes (such as /run/handoff, where the takeover socket is, when it is not bound
// from the host) are mounted into the successor by name: both generations see the same files.
json::array binds_with_anonymous_volumes(const json::object& inspected,
                                         const json::object& host_config) {
  json::array binds;
  if (const json::value* b = host_config.if_contains("Binds"); b != nullptr && b->is_array()) {
    binds = b->as_array();
  }
  const json::value* mounts = inspected.if_contains("Mounts");
  if (mounts == nullptr || !mounts->is_array()) {
    return binds;
  }
  for (const json::value& m : mounts->as_array()) {
    if (!m.is_object()) {
      continue;
    }
    const json::object& mount = m.as_object();
    const json::value* type = mount.if_contains("Type");
    const json::value* name = mount.if_contains("Name");
    const json::value* destination = mount.if_contains("Destination");
    if (type == nullptr || !type->is_string() || type->as_string() != "volume" || name == nullptr ||
        !name->is_string() || destination == nullptr || !destination->is_string()) {
      continue;
    }
    const std::string prefix = fmt::format("{}:", std::string_view(name->as_string()));
    const bool listed = std::any_of(binds.begin(), binds.end(), [&](const json::value& v) {
      return v.is_string() && std::string_view(v.as_string()).starts_with(prefix);
    });
    if (!listed) {
      binds.emplace_back(prefix + std::string(destination->as_string()));
    }
  }
  return binds;
}

}  // namespace

json::object successor_container_body(const json::object& inspected, const std::string& image,
                                      const std::string& token) {
  json::object body = object_at(inspected, "Config");
  // The host name is the engine's to give (and conflicts with host networking when set).
  body.erase("Hostname");
  body.erase("Domainname");
  body["Image"] = image;
  body["Cmd"] = takeover_command(body);
  body["Env"] = takeover_environment(body, token);
  json::object host_config = object_at(inspected, "HostConfig");
  host_config["Binds"] = binds_with_anonymous_volumes(inspected, host_config);
  body["HostConfig"] = std::move(host_config);
  return body;
}

SuccessorContainer::SuccessorContainer(std::unique_ptr<containers::DockerEngine> engine,
                                       const std::string& self, const std::string& image)
    : engine_(std::move(engine)), token_(new_takeover_token()) {
  const json::object inspected = engine_->inspect_raw(self);
  std::string own_name;
  if (const json::value* n = inspected.if_contains("Name"); n != nullptr && n->is_string()) {
    own_name = std::string(n->as_string());
  }
  if (!own_name.empty() && own_name.front() == '/') {
    own_name.erase(0, 1);
  }
  const json::value* mode = object_at(inspected, "HostConfig").if_contains("NetworkMode");
  const std::string network =
      mode != nullptr && mode->is_string() ? std::string(mode->as_string()) : "";
  if (network != "host" && !network.starts_with("container:")) {
    // The listening sockets live in this container's network namespace, which the engine
    // destroys with it: handed over, they would die with it anyway.
    throw std::runtime_error(fmt::format(
        "the front container runs on network '{}': its listening sockets die with it, so it "
        "cannot be upgraded in place; run it with --network host (or in a namespace holder's "
        "network, --network container:HOLDER) (see README.md, Upgrading handoff itself)",
        network));
  }
  name_ = fmt::format("{}-next-{}", own_name, token_.substr(0, 8));
  if (!engine_->has_image(image)) {
    engine_->pull(
        image, {}, [](const containers::PullProgress&) {}, [] { return true; });
  }
  id_ = engine_->create_raw(name_, successor_container_body(inspected, image, token_));
  try {
    engine_->start(id_);
  } catch (...) {
    abandon();
    throw;
  }
}

std::optional<std::string> SuccessorContainer::ended() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_look_) {
    return std::nullopt;
  }
  next_look_ = now + std::chrono::milliseconds(500);
  const containers::ContainerInfo info = engine_->inspect(id_);
  if (info.running || info.state == "created") {
    return std::nullopt;
  }
  return fmt::format("exited with status {}", info.exit_code);
}

void SuccessorContainer::abandon() {
  try {
    engine_->remove(id_);
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: warning: {}\n", e.what());
  }
}

std::string SuccessorContainer::last_lines() {
  std::string out;
  try {
    const std::string logs = engine_->logs(id_, kLastLines);
    std::size_t start = 0;
    while (start < logs.size()) {
      const std::size_t end = std::min(logs.find('\n', start), logs.size());
      out += fmt::format("\n  {}", std::string_view(logs).substr(start, end - start));
      start = end + 1;
    }
  } catch (const std::exception& e) {
    out = fmt::format("\n  (no logs: {})", e.what());
  }
  return out;
}

}  // namespace handoff::control
