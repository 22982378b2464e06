#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::control {

/// A container handoff deployed, as saved.
struct SavedContainer {
  std::string id;
  std::string name;
  std::string image;
};

/// How a service's containers were made (by its last deploy), for `scale` to make more alike.
struct SavedDeploySpec {
  std::string image;             ///< empty: never deployed
  std::string name_prefix;       ///< containers are named PREFIX-N
  std::vector<std::string> env;  ///< KEY=VALUE
  std::int64_t port = 8080;      ///< the app's port (with a network)
  std::string network;           ///< the shared network, or "host"
  std::int64_t stop_timeout_s = 10;
};

/// When a canary is judged, and what it takes to roll it back or promote it by itself.
struct CanaryPolicy {
  double max_error_rate = 0.01;     ///< 5xx share over the window that rolls it back (1: never)
  std::int64_t window_s = 60;       ///< the window the rate is taken over
  std::int64_t min_requests = 100;  ///< requests in the window before it is judged at all
  std::int64_t bake_s = 0;          ///< promoted after this long without a rollback; 0: never
};

/// A canary running beside the serving set, as saved.
struct SavedCanary {
  std::vector<std::string> upstreams;      ///< its members
  std::vector<SavedContainer> containers;  ///< their containers, when deployed (member order)
  std::uint32_t share = 0;                 ///< of proxy::kCanaryBuckets (percent × 100)
  CanaryPolicy policy;
  std::int64_t started_unix_ms = 0;  ///< wall-clock start, for the bake time across restarts
  SavedDeploySpec deploy;            ///< how its containers were made (the service's on promotion)
};

/// What is saved of one service: enough to route it again after a restart.
struct ServiceState {
  std::string name;
  std::vector<std::string> hosts;
  /// The members of its upstream set (none: it answers 503). Saved as one string when there
  /// is at most one, as in files written before sets, else as an array.
  std::vector<std::string> upstreams;
  std::vector<std::string> previous;  ///< the set before the last swap, for rollback
  std::uint64_t generation = 1;
  /// The containers the members run in, in member order, when handoff deployed them (saved as
  /// `containers`; a file written before replicas names one as container_id/_name and image).
  std::vector<SavedContainer> containers;
  /// The sets of containers that served before the current one, most recently served first:
  /// the rollback target is the first, and --keep counts from it. (A file written before
  /// replicas holds one container per entry.)
  std::vector<std::vector<SavedContainer>> history;
  /// The number the next deployed container is named with (PREFIX-N). It is reserved and saved
  /// before the container is created, so that a name is never used twice, even after a crash.
  std::uint64_t next_container = 0;
  bool paused = false;                     ///< new requests are held (see `handoff pause`)
  std::int64_t max_pause_ms = 30'000;      ///< how long a held request waits before a 503
  std::string pause_message;               ///< that 503's body, when set with the pause
  std::int64_t retry_after_s = 5;          ///< that 503's Retry-After
  bool strip_prefix = false;               ///< a matched path prefix is removed before forwarding
  std::string tls_source = "off";          ///< where its certificate comes from: off, given, acme
  std::string tls_cert;                    ///< the certificate chain (PEM), when it has one
  std::string tls_key;                     ///< its private key (PEM); the file is mode 0600
  bool tls_issued_by_acme = false;         ///< that certificate was issued by ACME
  bool redirect_https = false;             ///< plain HTTP requests are redirected to HTTPS
  std::int64_t hsts_seconds = 0;           ///< Strict-Transport-Security max-age; 0: none
  bool health_watch = false;               ///< serving members are health-checked (see HealthWatch)
  std::string health_path = "/up";         ///< what they are checked with: the last gate's path,
  std::string health_host;                 ///< Host header,
  std::int64_t health_interval_ms = 1000;  ///< interval
  std::int64_t healthy_threshold = 2;      ///< and thresholds
  std::int64_t unhealthy_threshold = 3;
  SavedDeploySpec deploy;  ///< how its containers were made (image empty: never deployed)
  std::optional<SavedCanary> canary;       ///< the canary beside the serving set, when one runs
  std::int64_t max_conns_per_member = -1;  ///< its own cap on members' connections; -1: run's
};

/// The proxy's saved state.
struct ProxyState {
  std::vector<ServiceState> services;
};

/// The state as the state file holds it (JSON, version 1).
std::string state_to_json(const ProxyState& state);
/// Reads state JSON; throws std::exception naming what is wrong.
ProxyState state_from_json(std::string_view text);

/// Saves and loads the state file `state.json` in a state directory.
class StateStore {
 public:
  /// Uses `dir`, creating it when missing (throws std::runtime_error when it cannot).
  explicit StateStore(std::filesystem::path dir);

  /// Whether a state file exists: once one does, it wins over start-up flags.
  [[nodiscard]] bool exists() const { return std::filesystem::exists(file_); }
  /// The state file's path.
  [[nodiscard]] const std::filesystem::path& file() const { return file_; }

  /// Loads the state; an absent file is an empty state. Throws std::runtime_error naming the
  /// file and the problem when it cannot be read or parsed.
  [[nodiscard]] ProxyState load() const;

  /// Writes the state durably: a temp file in the same directory, fsync, rename. When the rename
  /// fails with EBUSY or EXDEV (state.json is itself a bind-mounted file), it overwrites the file
  /// in place instead. Throws std::runtime_error on failure.
  void save(const ProxyState& state) const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path file_;
};

}  // namespace handoff::control
