#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::containers {

/// The engine refused or could not be reached; `status` is its HTTP status (0: unreachable).
class EngineError : public std::runtime_error {
 public:
  EngineError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  /// The engine's HTTP status, or 0 when it could not be reached.
  [[nodiscard]] int status() const { return status_; }

 private:
  int status_;
};

/// What to create.
struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> env;  ///< KEY=VALUE
  std::map<std::string, std::string> labels;
  std::string network;  ///< a network name, or "host" for the host's network
  std::chrono::seconds stop_timeout{10};
};

/// What inspecting a container tells.
struct ContainerInfo {
  std::string id;
  std::string name;
  std::string image;
  std::string state;  ///< created, running, exited, ...
  bool running = false;
  int exit_code = 0;
  std::string health;  ///< "" (no HEALTHCHECK), starting, healthy, unhealthy
  std::map<std::string, std::string> labels;
  std::vector<std::string> env;
  std::map<std::string, std::string> ips;  ///< IP address by network name
};

/// One container in a listing.
struct ContainerSummary {
  std::string id;
  std::string name;
  std::string image;
  std::string state;
  std::map<std::string, std::string> labels;
};

/// A container engine. `DockerEngine` is the one implementation; the interface keeps workflows
/// independent of the engine's API. Every call blocks (control threads only).
/// How far an image pull has come, over all its layers.
struct PullProgress {
  int layers = 0;                 ///< layers the image has (as far as the engine has said)
  int layers_done = 0;            ///< layers downloaded and extracted, or already present
  std::uint64_t bytes = 0;        ///< bytes downloaded so far
  std::uint64_t total_bytes = 0;  ///< bytes to download, as far as known
};

class Engine {
 public:
  virtual ~Engine() = default;
  /// Whether the image is present on the engine.
  virtual bool has_image(const std::string& image) = 0;
  /// Pulls the image from its registry; `registry_auth` is the X-Registry-Auth value (empty for
  /// none). Calls `progress` as layers arrive, and `keep_going` while it waits: false stops the
  /// pull. Throws EngineError with the registry's message, or status 0 when it was stopped.
  virtual void pull(const std::string& image, const std::string& registry_auth,
                    const std::function<void(const PullProgress&)>& progress,
                    const std::function<bool()>& keep_going) = 0;
  /// Creates a container; returns its id.
  virtual std::string create(const ContainerSpec& spec) = 0;
  /// Starts it.
  virtual void start(const std::string& id) = 0;
  /// Inspects it.
  virtual ContainerInfo inspect(const std::string& id) = 0;
  /// Stops it, killing it after `timeout`.
  virtual void stop(const std::string& id, std::chrono::seconds timeout) = 0;
  /// Removes it (and stops it first if needed).
  virtual void remove(const std::string& id) = 0;
  /// Containers carrying `label` (KEY=VALUE), running or not.
  virtual std::vector<ContainerSummary> list(const std::string& label) = 0;
  /// The last `lines` lines of its output (stdout and stderr).
  virtual std::string logs(const std::string& id, int lines) = 0;
  /// Streams its output to `output` as it comes, starting with the last `lines` lines (-1: all),
  /// until the container stops or `keep_going` (asked about once a second) says false.
  virtual void follow_logs(const std::string& id, int lines,
                           const std::function<void(std::string_view)>& output,
                           const std::function<bool()>& keep_going) = 0;
  /// Reports each container carrying the label key `label` that stops running (it exited, was
  /// killed or died) by calling `died` with its id, as the engine says it happens, until
  /// `keep_going` (asked about once a second) says false. Returns when the stream ends; throws
  /// EngineError when it cannot be opened.
  /// `since` (unix seconds; 0: from now) replays the deaths from then on first, so that one
  /// that came while nobody watched (before the first connection, between two) is not missed.
  virtual void watch_deaths(const std::string& label, std::int64_t since,
                            const std::function<void(const std::string& id)>& died,
                            const std::function<bool()>& keep_going) = 0;
};

}  // namespace handoff::containers
