#include "control/state_store.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "control/text_file.hpp"

namespace handoff::control {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string state_to_json(const ProxyState& state) {
  json::array services;
  for (const ServiceState& s : state.services) {
    json::array hosts;
    for (const auto& h : s.hosts) {
      hosts.emplace_back(h);
    }
    json::array history;
    for (const SavedContainer& c : s.history) {
      history.push_back(json::object{{"id", c.id}, {"name", c.name}, {"image", c.image}});
    }
    services.push_back(json::object{{"name", s.name},
                                    {"hosts", std::move(hosts)},
                                    {"upstream", s.upstream},
                                    {"previous", s.previous},
                                    {"generation", s.generation},
                                    {"container_id", s.container_id},
                                    {"container_name", s.container_name},
                                    {"image", s.image},
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
                                    {"hsts_seconds", s.hsts_seconds}});
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
       {std::pair{"container_id", &s.container_id}, std::pair{"container_name", &s.container_name},
        std::pair{"image", &s.image}, std::pair{"previous", &s.previous},
        std::pair{"pause_message", &s.pause_message}, std::pair{"tls_source", &s.tls_source},
        std::pair{"tls_cert", &s.tls_cert}, std::pair{"tls_key", &s.tls_key}}) {
    if (const json::value* v = so.if_contains(key); v && v->is_string()) {
      *field = std::string(v->as_string());
    }
  }
  for (auto [key, field] :
       {std::pair{"paused", &s.paused}, std::pair{"strip_prefix", &s.strip_prefix},
        std::pair{"tls_issued_by_acme", &s.tls_issued_by_acme},
        std::pair{"redirect_https", &s.redirect_https}}) {
    if (const json::value* v = so.if_contains(key); v && v->is_bool()) {
      *field = v->as_bool();
    }
  }
  for (auto [key, field] :
       {std::pair{"max_pause_ms", &s.max_pause_ms}, std::pair{"retry_after_s", &s.retry_after_s},
        std::pair{"hsts_seconds", &s.hsts_seconds}}) {
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

ServiceState read_service(const json::object& so) {
  ServiceState s;
  s.name = require_string(so, "name");
  s.upstream = require_string(so, "upstream");
  if (const json::value* h = so.if_contains("hosts")) {
    for (const json::value& host : h->as_array()) {
      s.hosts.emplace_back(host.as_string());
    }
  }
  if (const json::value* h = so.if_contains("history")) {
    for (const json::value& c : h->as_array()) {
      const json::object& co = c.as_object();
      s.history.push_back(SavedContainer{require_string(co, "id"), require_string(co, "name"),
                                         require_string(co, "image")});
    }
  }
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
