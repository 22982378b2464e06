#include "control/registry/state_store.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "control/base/text_file.hpp"

namespace handoff::control {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// One member as a string (an empty one for none), several as an array.
json::array containers_to_json(const std::vector<SavedContainer>& containers) {
  json::array out;
  for (const SavedContainer& c : containers) {
    out.push_back(json::object{{"id", c.id}, {"name", c.name}, {"image", c.image}});
  }
  return out;
}

json::object spec_to_json(const SavedDeploySpec& d) {
  json::array env;
  for (const auto& e : d.env) {
    env.emplace_back(e);
  }
  return json::object{{"image", d.image},      {"name_prefix", d.name_prefix},
                      {"env", std::move(env)}, {"port", d.port},
                      {"network", d.network},  {"stop_timeout_s", d.stop_timeout_s}};
}

json::value canary_to_json(const std::optional<SavedCanary>& c) {
  if (!c) {
    return nullptr;
  }
  json::array upstreams;
  for (const auto& a : c->upstreams) {
    upstreams.emplace_back(a);
  }
  return json::object{{"upstreams", std::move(upstreams)},
                      {"containers", containers_to_json(c->containers)},
                      {"share", c->share},
                      {"max_error_rate", c->policy.max_error_rate},
                      {"window_s", c->policy.window_s},
                      {"min_requests", c->policy.min_requests},
                      {"bake_s", c->policy.bake_s},
                      {"started_unix_ms", c->started_unix_ms},
                      {"deploy", spec_to_json(c->deploy)}};
}

json::value addresses_to_json(const std::vector<std::string>& addresses) {
  if (addresses.size() <= 1) {
    return json::value(addresses.empty() ? std::string() : addresses.front());
  }
  json::array out;
  for (const auto& a : addresses) {
    out.emplace_back(a);
  }
  return out;
}

}  // namespace

std::string state_to_json(const ProxyState& state) {
  json::array services;
  for (const ServiceState& s : state.services) {
    json::array hosts;
    for (const auto& h : s.hosts) {
      hosts.emplace_back(h);
    }
    json::array history;
    for (const std::vector<SavedContainer>& set : s.history) {
      history.push_back(containers_to_json(set));
    }
    services.push_back(json::object{{"name", s.name},
                                    {"hosts", std::move(hosts)},
                                    {"upstream", addresses_to_json(s.upstreams)},
                                    {"previous", addresses_to_json(s.previous)},
                                    {"generation", s.generation},
                                    {"containers", containers_to_json(s.containers)},
                                    {"history", std::move(history)},
                                    {"next_container", s.next_container},
                                    {"paused", s.paused},
                                    {"max_pause_ms", s.max_pause_ms},
                                    {"pause_message", s.pause_message},
                                    {"retry_after_s", s.retry_after_s},
                                    {"strip_prefix", s.strip_prefix},
                                    {"tls_source", s.tls_source},
                                    {"tls_cert", s.tls_cert},
                                    {"tls_key", s.tls_key},
                                    {"tls_issued_by_acme", s.tls_issued_by_acme},
                                    {"redirect_https", s.redirect_https},
                                    {"hsts_seconds", s.hsts_seconds},
                                    {"health_watch", s.health_watch},
                                    {"health_path", s.health_path},
                                    {"health_host", s.health_host},
                                    {"health_interval_ms", s.health_interval_ms},
                                    {"healthy_threshold", s.healthy_threshold},
                                    {"unhealthy_threshold", s.unhealthy_threshold},
                                    {"deploy", spec_to_json(s.deploy)},
                                    {"canary", canary_to_json(s.canary)},
                                    {"max_conns_per_member", s.max_conns_per_member}});
  }
  return json::serialize(json::object{{"version", 1}, {"services", std::move(services)}}) + "\n";
}

namespace {

std::string require_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    throw std::runtime_error(fmt::format("field '{}' is missing or not a string", key));
  }
  return std::string(v->as_string());
}

// Optional fields keep their defaults when absent (a state file written by an older version).
void read_optional(const json::object& so, ServiceState& s) {
  for (auto [key, field] :
       {std::pair{"pause_message", &s.pause_message}, std::pair{"tls_source", &s.tls_source},
        std::pair{"tls_cert", &s.tls_cert}, std::pair{"tls_key", &s.tls_key},
        std::pair{"health_path", &s.health_path}, std::pair{"health_host", &s.health_host}}) {
    if (const json::value* v = so.if_contains(key); v && v->is_string()) {
      *field = std::string(v->as_string());
    }
  }
  for (auto [key, field] :
       {std::pair{"paused", &s.paused}, std::pair{"strip_prefix", &s.strip_prefix},
        std::pair{"tls_issued_by_acme", &s.tls_issued_by_acme},
        std::pair{"redirect_https", &s.redirect_https},
        std::pair{"health_watch", &s.health_watch}}) {
    if (const json::value* v = so.if_contains(key); v && v->is_bool()) {
      *field = v->as_bool();
    }
  }
  for (auto [key, field] :
       {std::pair{"max_pause_ms", &s.max_pause_ms}, std::pair{"retry_after_s", &s.retry_after_s},
        std::pair{"hsts_seconds", &s.hsts_seconds},
        std::pair{"health_interval_ms", &s.health_interval_ms},
        std::pair{"healthy_threshold", &s.healthy_threshold},
        std::pair{"unhealthy_threshold", &s.unhealthy_threshold},
        std::pair{"max_conns_per_member", &s.max_conns_per_member}}) {
    if (const json::value* v = so.if_contains(key)) {
      *field = v->to_number<std::int64_t>();
    }
  }
  if (const json::value* n = so.if_contains("next_container")) {
    s.next_container = static_cast<std::uint64_t>(n->to_number<std::int64_t>());
  }
  if (const json::value* g = so.if_contains("generation")) {
    s.generation = static_cast<std::uint64_t>(g->to_number<std::int64_t>());
  }
}

// A string (empty: none) or an array of strings.
std::vector<std::string> read_addresses(const json::object& o, std::string_view key,
                                        bool required) {
  const json::value* v = o.if_contains(key);
  std::vector<std::string> out;
  if (v != nullptr && v->is_string()) {
    if (!v->as_string().empty()) {
      out.emplace_back(v->as_string());
    }
  } else if (v != nullptr && v->is_array()) {
    for (const json::value& a : v->as_array()) {
      if (!a.is_string() || a.as_string().empty()) {
        throw std::runtime_error(fmt::format("field '{}' holds something not an address", key));
      }
      out.emplace_back(a.as_string());
    }
  } else if (v != nullptr || required) {
    throw std::runtime_error(fmt::format("field '{}' is missing or not an address list", key));
  }
  return out;
}

// One container: {"id", "name", "image"}.
SavedContainer read_container(const json::object& o) {
  return SavedContainer{require_string(o, "id"), require_string(o, "name"),
                        require_string(o, "image")};
}

std::vector<SavedContainer> read_containers(const json::value& v) {
  std::vector<SavedContainer> out;
  for (const json::value& c : v.as_array()) {
    out.push_back(read_container(c.as_object()));
  }
  return out;
}

// A file from before `scale` has no "deploy": the service was never scaled, and its next
// deploy records one.
SavedDeploySpec read_spec(const json::object& so) {
  SavedDeploySpec d;
  const json::value* v = so.if_contains("deploy");
  if (v == nullptr) {
    return d;
  }
  const json::object& o = v->as_object();
  d.image = require_string(o, "image");
  d.name_prefix = require_string(o, "name_prefix");
  d.network = require_string(o, "network");
  for (const json::value& e : o.at("env").as_array()) {
    d.env.emplace_back(e.as_string());
  }
  d.port = o.at("port").to_number<std::int64_t>();
  d.stop_timeout_s = o.at("stop_timeout_s").to_number<std::int64_t>();
  return d;
}

// A file from before canaries, or a service without one, has none.
std::optional<SavedCanary> read_canary(const json::object& so) {
  const json::value* v = so.if_contains("canary");
  if (v == nullptr || v->is_null()) {
    return std::nullopt;
  }
  const json::object& o = v->as_object();
  SavedCanary c;
  c.upstreams = read_addresses(o, "upstreams", true);
  if (c.upstreams.empty()) {
    throw std::runtime_error("a canary has no upstream");
  }
  c.containers = read_containers(o.at("containers"));
  c.share = static_cast<std::uint32_t>(o.at("share").to_number<std::int64_t>());
  c.policy.max_error_rate = o.at("max_error_rate").to_number<double>();
  c.policy.window_s = o.at("window_s").to_number<std::int64_t>();
  c.policy.min_requests = o.at("min_requests").to_number<std::int64_t>();
  c.policy.bake_s = o.at("bake_s").to_number<std::int64_t>();
  c.started_unix_ms = o.at("started_unix_ms").to_number<std::int64_t>();
  c.deploy = read_spec(o);
  return c;
}

ServiceState read_service(const json::object& so) {
  ServiceState s;
  s.name = require_string(so, "name");
  s.upstreams = read_addresses(so, "upstream", true);
  s.previous = read_addresses(so, "previous", false);
  if (const json::value* h = so.if_contains("hosts")) {
    for (const json::value& host : h->as_array()) {
      s.hosts.emplace_back(host.as_string());
    }
  }
  if (const json::value* c = so.if_contains("containers")) {
    s.containers = read_containers(*c);
  } else if (const json::value* id = so.if_contains("container_id");
             id != nullptr && id->is_string() && !id->as_string().empty()) {
    // Written before replicas: the one container's fields sit in the service.
    s.containers = {SavedContainer{require_string(so, "container_id"),
                                   require_string(so, "container_name"),
                                   require_string(so, "image")}};
  }
  if (const json::value* h = so.if_contains("history")) {
    for (const json::value& set : h->as_array()) {
      // An entry is a set of containers; a single object, from before replicas, a set of one.
      s.history.push_back(set.is_object() ? std::vector{read_container(set.as_object())}
                                          : read_containers(set));
    }
  }
  s.deploy = read_spec(so);
  s.canary = read_canary(so);
  read_optional(so, s);
  return s;
}

}  // namespace

StateStore::StateStore(fs::path dir) : dir_(std::move(dir)), file_(dir_ / "state.json") {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot create state directory {}: {}", dir_.string(), ec.message()));
  }
}

ProxyState StateStore::load() const {
  ProxyState state;
  std::ifstream in(file_);
  if (!in) {
    if (fs::exists(file_)) {
      throw std::runtime_error(fmt::format("state file {}: cannot read it", file_.string()));
    }
    return state;
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return state_from_json(text.str());
  } catch (const boost::system::system_error& e) {
    // Boost.JSON's own text carries its source location; the code's message is the reason.
    throw std::runtime_error(
        fmt::format("state file {} is corrupt: {}", file_.string(), e.code().message()));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("state file {} is corrupt: {}", file_.string(), e.what()));
  }
}

ProxyState state_from_json(std::string_view text) {
  ProxyState state;
  json::value root = json::parse(text);
  const json::object& o = root.as_object();
  const json::value* version = o.if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) {
    throw std::runtime_error("unknown or missing version (expected 1)");
  }
  for (const json::value& v : o.at("services").as_array()) {
    state.services.push_back(read_service(v.as_object()));
  }
  return state;
}

void StateStore::save(const ProxyState& state) const {
  replace_private_file(file_, state_to_json(state));
}

}  // namespace handoff::control
