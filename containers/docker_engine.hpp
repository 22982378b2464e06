#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string>

#include "containers/engine.hpp"

namespace handoff::containers {

/// The Docker Engine HTTP API through libcurl: `DOCKER_HOST` (`unix:///path` or
/// `tcp://host:port`), else /var/run/docker.sock. The API version is negotiated once through
/// `GET /_ping`: the lower of the engine's and ours (works with docker.io 20.10, API 1.41, with
/// newer engines and with Podman's compatible socket).
class DockerEngine : public Engine {
 public:
  /// Uses `docker_host` (as DOCKER_HOST is written), or the environment's when empty.
  /// Throws EngineError when the engine cannot be reached.
  explicit DockerEngine(std::string docker_host = {});

  /// The negotiated API version, e.g. "1.41".
  [[nodiscard]] const std::string& api_version() const { return version_; }
  /// Where the engine is, for messages.
  [[nodiscard]] const std::string& where() const { return where_; }

  std::string create(const ContainerSpec& spec) override;
  void start(const std::string& id) override;
  ContainerInfo inspect(const std::string& id) override;
  void stop(const std::string& id, std::chrono::seconds timeout) override;
  void remove(const std::string& id) override;
  std::vector<ContainerSummary> list(const std::string& label) override;
  std::string logs(const std::string& id, int lines) override;
  void follow_logs(const std::string& id, int lines,
                   const std::function<void(std::string_view)>& output,
                   const std::function<bool()>& keep_going) override;
  void watch_deaths(const std::string& label, std::int64_t since,
                    const std::function<void(const std::string& id)>& died,
                    const std::function<bool()>& keep_going) override;
  bool has_image(const std::string& image) override;

  // What an upgrade of handoff's own front container needs (Docker only).

  /// The engine's whole inspect answer for a container (GET /containers/ID/json).
  boost::json::object inspect_raw(const std::string& id);
  /// Creates a container from a body as the API takes it (Config fields and HostConfig);
  /// returns its id.
  std::string create_raw(const std::string& name, const boost::json::object& body);
  /// Removes a container but not its anonymous volumes (its successor uses them).
  void remove_keeping_volumes(const std::string& id);
  /// Renames a container.
  void rename(const std::string& id, const std::string& name);
  /// Sets a container's restart policy ("no", "always", "unless-stopped", "on-failure").
  void set_restart_policy(const std::string& id, const std::string& policy);
  /// Waits until the container is not running (POST /containers/ID/wait), while
  /// `keep_going` says so; true when it stopped.
  bool wait_stopped(const std::string& id, const std::function<bool()>& keep_going);
  void pull(const std::string& image, const std::string& registry_auth,
            const std::function<void(const PullProgress&)>& progress,
            const std::function<bool()>& keep_going) override;

  /// One call of the API (`path` after the version, e.g. "/tasks"), for the clients of its other
  /// parts (Swarm): the parsed answer (null when empty). Throws EngineError when the status is
  /// not one of `ok`, with the engine's message and `what` was asked.
  boost::json::value request_json(const std::string& method, const std::string& path,
                                  const std::string& body, std::initializer_list<int> ok,
                                  const std::string& what);

 private:
  struct Reply {
    int status = 0;
    std::string body;
    std::string api_version;  // the Api-Version header, when sent
  };
  // With `on_data`, the body goes there as it arrives instead of into the reply; `header` is
  // one more request header line.
  Reply call(const std::string& method, const std::string& path, const std::string& body = {},
             long timeout_ms = 30'000, const std::string& header = {},
             const std::function<void(std::string_view)>* on_data = nullptr,
             const std::function<bool()>* keep_going = nullptr) const;
  // Throws EngineError with the engine's message when the status is not one of `ok`.
  static void expect(const Reply& r, std::initializer_list<int> ok, const std::string& what);

  std::string socket_;    // unix socket path, or empty for TCP
  std::string base_url_;  // http://host:port or http://docker
  std::string where_;
  std::string version_ = "1.41";
};

}  // namespace handoff::containers
