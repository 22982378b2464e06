#pragma once

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol/field_limits.hpp"
#include "control/protocol/json_fields.hpp"

namespace handoff::control {

// The bodies of the control API's requests, as the structs the CLI fills from its flags and the
// API reads. Each field is named once, in its struct's `each` (name, member, and for numbers
// their range); both directions are made from that list: `boost::json::value_from` writes the
// fields that are set, `read_request` (or `value_to`) reads them strictly — an unknown field,
// a repeated one, a wrong type or a number out of range is a DomainError 400 naming the field.
// A field that is not set stays empty: the API applies its default.

/// A share of clients in hundredths of a percent; "10%" or "0.5%" on the wire.
struct Percent {
  std::uint32_t hundredths = 0;
};

/// The health gate and the drain of a switch (swap, rollback, deploy, scale).
struct GateRequest {
  std::optional<std::string> health_path;
  std::optional<std::string> health_host;
  std::optional<std::chrono::milliseconds> health_interval;
  std::optional<std::int64_t> healthy_threshold;
  std::optional<std::int64_t> unhealthy_threshold;
  std::optional<std::chrono::milliseconds> deploy_timeout;
  std::optional<std::chrono::milliseconds> drain_timeout;
  std::optional<bool> health_check;

  /// Visits each field (see the top of this file).
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.text("health_path", self.health_path);
    f.text("health_host", self.health_host);
    f.duration("health_interval", self.health_interval);
    f.integer("healthy_threshold", self.healthy_threshold, kThresholdRange);
    f.integer("unhealthy_threshold", self.unhealthy_threshold, kThresholdRange);
    f.duration("deploy_timeout", self.deploy_timeout);
    f.duration("drain_timeout", self.drain_timeout);
    f.boolean("health_check", self.health_check);
  }
};

/// A new set started as a canary, and how it is judged (swap, deploy).
struct CanaryRequest {
  std::optional<Percent> canary;  ///< its share of clients; not set: no canary
  std::optional<Percent> max_error_rate;
  std::optional<std::chrono::milliseconds> window;
  std::optional<std::int64_t> min_requests;
  std::optional<std::chrono::milliseconds> bake;

  /// Whether any of the fields that judge a canary is set.
  [[nodiscard]] bool judged() const { return max_error_rate || window || min_requests || bake; }

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.percent("canary", self.canary);
    f.percent("max_error_rate", self.max_error_rate);
    f.duration("window", self.window);
    f.integer("min_requests", self.min_requests, kMinRequestsRange);
    f.duration("bake", self.bake);
  }
};

/// A service's HTTPS settings (service add and update, deploy).
struct TlsRequest {
  std::optional<std::string> tls;       ///< "acme" or "off"
  std::optional<std::string> tls_cert;  ///< PEM chain, with tls_key
  std::optional<std::string> tls_key;
  std::optional<bool> redirect_https;
  std::optional<std::int64_t> hsts;  ///< seconds

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.text("tls", self.tls);
    f.text("tls_cert", self.tls_cert);
    f.text("tls_key", self.tls_key);
    f.boolean("redirect_https", self.redirect_https);
    f.integer("hsts", self.hsts, kHstsRange);
  }
};

/// POST /v1/services/NAME/swap: `handoff swap`.
struct SwapRequest {
  std::vector<std::string> to;  ///< the new set's addresses (required; "A" or ["A", "B"])
  GateRequest gate;
  CanaryRequest canary;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.one_or_more("to", self.to, "upstream addresses");
    GateRequest::each(self.gate, f);
    CanaryRequest::each(self.canary, f);
  }
};

/// POST /v1/services/NAME/rollback: `handoff rollback` (a running canary takes only
/// drain_timeout).
struct RollbackRequest {
  GateRequest gate;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    GateRequest::each(self.gate, f);
  }
};

/// POST /v1/services/NAME/scale: `handoff scale`.
struct ScaleRequest {
  std::optional<std::int64_t> replicas;  ///< required
  GateRequest gate;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.integer("replicas", self.replicas, kReplicasRange);
    GateRequest::each(self.gate, f);
  }
};

/// POST /v1/services/NAME/deploy: `handoff deploy`.
struct DeployRequest {
  std::optional<std::string> image;  ///< required
  std::optional<std::string> name_prefix;
  std::optional<std::string> network;
  std::optional<bool> host_network;
  std::optional<std::int64_t> port;
  std::optional<std::int64_t> keep;
  std::optional<std::int64_t> replicas;
  std::optional<std::chrono::milliseconds> stop_timeout;
  std::vector<std::string> env;    ///< "KEY=VALUE"
  std::vector<std::string> hosts;  ///< for a service the deploy creates
  std::optional<std::string> pull;
  std::optional<std::string> registry_auth;
  std::optional<std::string> task_port;  ///< on a swarm, e.g. "190{{.Task.Slot}}"
  GateRequest gate;
  CanaryRequest canary;
  TlsRequest tls;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.text("image", self.image);
    f.text("name_prefix", self.name_prefix);
    f.text("network", self.network);
    f.boolean("host_network", self.host_network);
    f.integer("port", self.port, kPortRange);
    f.integer("keep", self.keep, kKeepRange);
    f.integer("replicas", self.replicas, kReplicasRange);
    f.duration("stop_timeout", self.stop_timeout);
    f.strings("env", self.env, "\"KEY=VALUE\"");
    f.strings("hosts", self.hosts, "host names");
    f.text("pull", self.pull);
    f.text("registry_auth", self.registry_auth);
    f.text("task_port", self.task_port);
    GateRequest::each(self.gate, f);
    CanaryRequest::each(self.canary, f);
    TlsRequest::each(self.tls, f);
  }
};

/// POST /v1/services/NAME/promote: `handoff promote`.
struct PromoteRequest {
  std::optional<std::chrono::milliseconds> drain_timeout;
  std::optional<std::chrono::milliseconds> stop_timeout;
  std::optional<std::int64_t> keep;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.duration("drain_timeout", self.drain_timeout);
    f.duration("stop_timeout", self.stop_timeout);
    f.integer("keep", self.keep, kKeepRange);
  }
};

/// POST /v1/services/NAME/canary: `handoff canary --percent`.
struct CanaryShareRequest {
  std::optional<Percent> percent;  ///< required

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.percent("percent", self.percent);
  }
};

/// POST /v1/services (`handoff service add`) and PATCH /v1/services/NAME (`service update`).
struct ServiceRequest {
  std::optional<std::string> name;  ///< add only (required there)
  std::optional<std::vector<std::string>> hosts;
  std::optional<std::string> upstream;  ///< add only
  std::optional<bool> strip_prefix;
  std::optional<std::int64_t> max_conns_per_member;
  TlsRequest tls;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.text("name", self.name);
    f.strings("hosts", self.hosts, "host names");
    f.text("upstream", self.upstream);
    f.boolean("strip_prefix", self.strip_prefix);
    f.integer("max_conns_per_member", self.max_conns_per_member, kMaxConnsRange);
    TlsRequest::each(self.tls, f);
  }
};

/// POST /v1/services/NAME/pause: `handoff pause`.
struct PauseRequest {
  std::optional<std::chrono::milliseconds> max_pause;
  std::optional<std::string> message;
  std::optional<std::chrono::milliseconds> retry_after;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.duration("max_pause", self.max_pause);
    f.text("message", self.message);
    f.duration("retry_after", self.retry_after);
  }
};

/// POST /v1/services/NAME/logs: `handoff logs`.
struct LogsRequest {
  std::optional<std::int64_t> tail;
  std::optional<bool> follow;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.integer("tail", self.tail, kTailRange);
    f.boolean("follow", self.follow);
  }
};

/// POST /v1/upgrade: `handoff upgrade`.
struct UpgradeRequest {
  std::optional<std::string> exec;
  std::optional<std::string> image;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::milliseconds> drain_timeout;
  std::optional<bool> wait;

  /// Visits each field.
  template <typename Self, typename Fields>
  static void each(Self& self, Fields& f) {
    f.text("exec", self.exec);
    f.text("image", self.image);
    f.duration("timeout", self.timeout);
    f.duration("drain_timeout", self.drain_timeout);
    f.boolean("wait", self.wait);
  }
};

/// Writes the fields that are set into a JSON object (the CLI's side).
class FieldWriter {
 public:
  explicit FieldWriter(boost::json::object& out) : out_(out) {}
  void text(std::string_view key, const std::optional<std::string>& v);
  void duration(std::string_view key, const std::optional<std::chrono::milliseconds>& v);
  void integer(std::string_view key, const std::optional<std::int64_t>& v, FieldRange range);
  void boolean(std::string_view key, const std::optional<bool>& v);
  void percent(std::string_view key, const std::optional<Percent>& v);
  void strings(std::string_view key, const std::vector<std::string>& v, std::string_view what);
  void strings(std::string_view key, const std::optional<std::vector<std::string>>& v,
               std::string_view what);
  void one_or_more(std::string_view key, const std::vector<std::string>& v, std::string_view what);

 private:
  boost::json::object& out_;
};

/// Reads the fields that are present, strictly, through JsonFields (the API's side).
class FieldReader {
 public:
  explicit FieldReader(JsonFields& in) : in_(in) {}
  void text(std::string_view key, std::optional<std::string>& v);
  void duration(std::string_view key, std::optional<std::chrono::milliseconds>& v);
  void integer(std::string_view key, std::optional<std::int64_t>& v, FieldRange range);
  void boolean(std::string_view key, std::optional<bool>& v);
  void percent(std::string_view key, std::optional<Percent>& v);
  void strings(std::string_view key, std::vector<std::string>& v, std::string_view what);
  void strings(std::string_view key, std::optional<std::vector<std::string>>& v,
               std::string_view what);
  void one_or_more(std::string_view key, std::vector<std::string>& v, std::string_view what);

 private:
  JsonFields& in_;
};

/// Collects the names of the fields that are set (for a request that takes fewer of its fields
/// in some state, e.g. a rollback that ends a canary).
class SetFieldNames {
 public:
  template <typename T, typename... Rest>
  void text(std::string_view key, const std::optional<T>& v, const Rest&... /*rest*/) {
    if (v) {
      names.push_back(key);
    }
  }
  template <typename T, typename... Rest>
  void duration(std::string_view key, const std::optional<T>& v, const Rest&... rest) {
    text(key, v, rest...);
  }
  template <typename T, typename... Rest>
  void integer(std::string_view key, const std::optional<T>& v, const Rest&... rest) {
    text(key, v, rest...);
  }
  template <typename T, typename... Rest>
  void boolean(std::string_view key, const std::optional<T>& v, const Rest&... rest) {
    text(key, v, rest...);
  }
  template <typename T, typename... Rest>
  void percent(std::string_view key, const std::optional<T>& v, const Rest&... rest) {
    text(key, v, rest...);
  }
  template <typename T, typename... Rest>
  void strings(std::string_view key, const T& v, const Rest&... /*rest*/) {
    if (has_items(v)) {
      names.push_back(key);
    }
  }
  template <typename T, typename... Rest>
  void one_or_more(std::string_view key, const T& v, const Rest&... rest) {
    strings(key, v, rest...);
  }

  std::vector<std::string_view> names;  ///< in the order of the struct's list

 private:
  static bool has_items(const std::vector<std::string>& v) { return !v.empty(); }
  static bool has_items(const std::optional<std::vector<std::string>>& v) { return v.has_value(); }
};

/// The names of the fields of `request` that are set.
template <typename R>
std::vector<std::string_view> set_field_names(const R& request) {
  SetFieldNames names;
  R::each(request, names);
  return std::move(names.names);
}

/// The request struct `R` read strictly from the request body `text` (see the top of this
/// file); every field it does not list is refused.
template <typename R>
R read_request(std::string_view text) {
  JsonFields in(text);
  FieldReader reader(in);
  R request;
  R::each(request, reader);
  in.finish();
  return request;
}

/// The JSON object for a request struct: its fields that are set.
template <typename R>
boost::json::object request_body(const R& request) {
  boost::json::object fields;
  FieldWriter writer(fields);
  R::each(request, writer);
  return fields;
}

/// JSON for a request struct: its fields that are set (boost::json::value_from).
template <typename R>
requires requires(const R& r, FieldWriter& w) {
  R::each(r, w);
}
void tag_invoke(const boost::json::value_from_tag& /*tag*/, boost::json::value& out,
                const R& request) {
  out = request_body(request);
}

/// A request struct from JSON, read as strictly as `read_request` (boost::json::value_to).
template <typename R>
requires requires(R& r, FieldReader& f) {
  R::each(r, f);
}
R tag_invoke(const boost::json::value_to_tag<R>& /*tag*/, const boost::json::value& in) {
  return read_request<R>(boost::json::serialize(in));
}

}  // namespace handoff::control
