#include "containers/docker_swarm.hpp"

#include <fmt/format.h>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "containers/api_fields.hpp"

namespace handoff::containers {

namespace json = boost::json;
namespace base64 = boost::beast::detail::base64;

namespace {

// A `filters` query value: {"KEY": ["VALUE"]}.
std::string filter(std::string_view key, const std::string& value) {
  return url_encode(json::serialize(json::object{{key, json::array{json::value(value)}}}));
}

std::string to_base64(const std::string& data) {
  std::string out(base64::encoded_size(data.size()), '\0');
  out.resize(base64::encode(out.data(), data.data(), data.size()));
  return out;
}

std::string from_base64(const std::string& text) {
  std::string out(base64::decoded_size(text.size()), '\0');
  out.resize(base64::decode(out.data(), text.data(), text.size()).first);
  return out;
}

// A listing's entries; an answer of another shape lists nothing, as the engine has nothing.
const json::array& array_of(const json::value& listing) {
  static const json::array empty;
  return listing.is_array() ? listing.as_array() : empty;
}

// An entry of a listing, or an empty object for an entry of another shape.
const json::object& entry(const json::value& v) {
  static const json::object empty;
  return v.is_object() ? v.as_object() : empty;
}

SwarmService service_of(const json::object& o) {
  const json::object& spec = object_or_empty(o, "Spec");
  const json::object& container =
      object_or_empty(object_or_empty(spec, "TaskTemplate"), "ContainerSpec");
  return SwarmService{
      string_or_empty(o, "ID"),
      string_or_empty(spec, "Name"),
      static_cast<std::uint64_t>(number_or_zero(object_or_empty(o, "Version"), "Index")),
      string_map(spec.if_contains("Labels")),
      string_or_empty(container, "Image"),
      number_or_zero(object_or_empty(object_or_empty(spec, "Mode"), "Replicated"), "Replicas")};
}

SwarmTask task_of(const json::object& o) {
  const json::object& status = object_or_empty(o, "Status");
  std::string message = string_or_empty(status, "Err");
  if (message.empty()) {
    message = string_or_empty(status, "Message");
  }
  return SwarmTask{string_or_empty(o, "ID"),
                   string_or_empty(o, "ServiceID"),
                   number_or_zero(o, "Slot"),
                   string_or_empty(o, "NodeID"),
                   string_or_empty(status, "State"),
                   string_or_empty(o, "DesiredState"),
                   std::move(message)};
}

}  // namespace

bool DockerSwarm::is_manager() {
  const json::value info =
      engine_.request_json("GET", "/info", {}, {200}, "read the engine's info");
  const json::object& swarm = object_or_empty(entry(info), "Swarm");
  const json::value* control = swarm.if_contains("ControlAvailable");
  return string_or_empty(swarm, "LocalNodeState") == "active" && control != nullptr &&
         control->is_bool() && control->as_bool();
}

std::vector<SwarmNode> DockerSwarm::nodes() {
  std::vector<SwarmNode> out;
  const json::value listing =
      engine_.request_json("GET", "/nodes", {}, {200}, "list the swarm's nodes");
  for (const json::value& v : array_of(listing)) {
    const json::object& o = entry(v);
    const json::object& status = object_or_empty(o, "Status");
    out.push_back(SwarmNode{string_or_empty(o, "ID"), string_or_empty(status, "Addr"),
                            string_or_empty(status, "State"),
                            string_or_empty(object_or_empty(o, "Spec"), "Availability")});
  }
  return out;
}

std::vector<SwarmService> DockerSwarm::services(const std::string& label) {
  std::vector<SwarmService> out;
  const json::value listing = engine_.request_json(
      "GET", "/services?filters=" + filter("label", label), {}, {200}, "list swarm services");
  for (const json::value& v : array_of(listing)) {
    out.push_back(service_of(entry(v)));
  }
  return out;
}

std::vector<SwarmTask> DockerSwarm::tasks(const std::string& service) {
  std::vector<SwarmTask> out;
  const json::value listing =
      engine_.request_json("GET", "/tasks?filters=" + filter("service", service), {}, {200},
                           "list the tasks of " + service);
  for (const json::value& v : array_of(listing)) {
    out.push_back(task_of(entry(v)));
  }
  return out;
}

std::string DockerSwarm::create_service(const SwarmServiceSpec& spec) {
  const json::object body{
      {"Name", spec.name},
      {"Labels", string_object(spec.labels)},
      {"TaskTemplate",
       json::object{{"ContainerSpec",
                     json::object{{"Image", spec.image},
                                  {"Env", string_array(spec.env)},
                                  {"Labels", string_object(spec.labels)},
                                  {"StopGracePeriod", spec.stop_grace.count() * 1'000'000'000}}},
                    {"Networks", json::array{json::object{{"Target", "host"}}}},
                    {"RestartPolicy", json::object{{"Condition", "any"}}}}},
      {"Mode", json::object{{"Replicated", json::object{{"Replicas", spec.replicas}}}}}};
  const json::value created =
      engine_.request_json("POST", "/services/create", json::serialize(body), {201},
                           fmt::format("create swarm service {} from {}", spec.name, spec.image));
  return string_or_empty(entry(created), "ID");
}

void DockerSwarm::scale_service(const std::string& id, std::int64_t replicas) {
  const std::string what = fmt::format("scale swarm service {} to {}", id, replicas);
  json::value service = engine_.request_json("GET", "/services/" + url_encode(id), {}, {200}, what);
  const json::object& o = entry(service);
  const std::int64_t version = number_or_zero(object_or_empty(o, "Version"), "Index");
  json::object spec = object_or_empty(o, "Spec");
  spec["Mode"] = json::object{{"Replicated", json::object{{"Replicas", replicas}}}};
  engine_.request_json("POST",
                       fmt::format("/services/{}/update?version={}", url_encode(id), version),
                       json::serialize(spec), {200}, what);
}

void DockerSwarm::remove_service(const std::string& id) {
  engine_.request_json("DELETE", "/services/" + url_encode(id), {}, {200, 404},
                       "remove swarm service " + id);
}

std::vector<SwarmConfig> DockerSwarm::configs(const std::string& label) {
  std::vector<SwarmConfig> out;
  const json::value listing = engine_.request_json(
      "GET", "/configs?filters=" + filter("label", label), {}, {200}, "list swarm configs");
  for (const json::value& v : array_of(listing)) {
    const json::object& o = entry(v);
    const json::object& spec = object_or_empty(o, "Spec");
    out.push_back(SwarmConfig{string_or_empty(o, "ID"), string_or_empty(spec, "Name"),
                              string_map(spec.if_contains("Labels")),
                              from_base64(string_or_empty(spec, "Data"))});
  }
  return out;
}

std::string DockerSwarm::create_config(const std::string& name,
                                       const std::map<std::string, std::string>& labels,
                                       const std::string& data) {
  const json::object body{
      {"Name", name}, {"Labels", string_object(labels)}, {"Data", to_base64(data)}};
  const json::value created = engine_.request_json("POST", "/configs/create", json::serialize(body),
                                                   {201}, "create swarm config " + name);
  return string_or_empty(entry(created), "ID");
}

void DockerSwarm::remove_config(const std::string& id) {
  engine_.request_json("DELETE", "/configs/" + url_encode(id), {}, {204, 404},
                       "remove swarm config " + id);
}

}  // namespace handoff::containers
