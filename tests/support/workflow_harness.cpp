#include "tests/support/workflow_harness.hpp"

#include <algorithm>

#include "tests/support/socket_client.hpp"

namespace handoff::test {

namespace json = boost::json;
using namespace std::chrono_literals;

proxy::ProxyConfig loopback_config() {
  proxy::ProxyConfig config;
  config.listen.emplace_back(boost::asio::ip::make_address("127.0.0.1"), 0);
  config.threads = 1;
  config.access_log = false;
  config.shutdown_timeout = 1s;
  return config;
}

void Events::emit(json::object event) {
  std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
}

bool Events::has(std::string_view step, std::string_view state) const {
  std::lock_guard lock(mutex_);
  return std::any_of(events_.begin(), events_.end(), [&](const json::object& e) {
    const json::value* a = e.if_contains("step");
    const json::value* b = e.if_contains("state");
    return a != nullptr && b != nullptr && a->is_string() && b->is_string() &&
           a->as_string() == step && b->as_string() == state;
  });
}

std::vector<json::object> Events::all() const {
  std::lock_guard lock(mutex_);
  return events_;
}

Harness::Harness() : server(loopback_config()) {
  server.start();
  registry.add("web", {"web.test"}, "");
  for (const char* image : {"app:v1", "app:v2", "app:v3"}) {
    engine.add_image(image);
  }
}

Harness::~Harness() {
  server.shutdown();
}

control::DeployOptions Harness::options(const std::string& image) {
  control::DeployOptions o;
  o.image = image;
  o.host_network = true;
  o.swap.health.interval = 20ms;
  o.swap.health.timeout = 2s;
  o.swap.drain_timeout = 1s;
  o.keep = 1;
  return o;
}

control::OperationResult Harness::deploy(const std::string& image, Events& events,
                                         control::DeployOptions o) {
  if (o.image.empty()) {
    o = options(image);
  }
  auto op = control::prepare_deploy(registry, server, engine.factory(), "web", o);
  return op(events);
}

control::OperationResult Harness::rollback(Events& events) {
  auto op =
      control::prepare_container_rollback(registry, server, engine.factory(), "web", options(""));
  return op(events);
}

std::string Harness::get() {
  const std::uint16_t port = server.local_endpoints().front().port();
  return request_once(port, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n").body;
}

std::string code_of(const control::OperationResult& r) {
  const json::value* e = r.result.if_contains("error");
  return e != nullptr ? std::string(e->as_string()) : std::string("ok");
}

}  // namespace handoff::test
