// The Docker Engine API client against a scripted engine on loopback (DOCKER_HOST=tcp://…): the
// version it negotiates, the requests it sends, what it reads from the answers, and the errors
// it reports. The same client runs against the real engine in tests/integration/deploy_test.cpp.
#include "containers/docker_engine.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/json.hpp>

#include "tests/support/test_backend.hpp"

using namespace handoff;
using handoff::test::BackendConnection;
using handoff::test::BackendRequest;
using handoff::test::TestBackend;
namespace json = boost::json;

namespace {

/// An engine whose answers `route` gives for each request: {status, body}.
using Route = std::function<std::pair<int, std::string>(const BackendRequest&)>;

TestBackend::Handler engine(std::string api_version, Route route) {
  return [api_version, route](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      auto [status, body] =
          r->target == "/_ping" ? std::make_pair(200, std::string("OK")) : route(*r);
      c.send(
          fmt::format("HTTP/1.1 {} X\r\nApi-Version: {}\r\nContent-Type: application/json\r\n"
                      "Content-Length: {}\r\n\r\n{}",
                      status, api_version, body.size(), body));
    }
  };
}

std::string tcp(const TestBackend& b) {
  return "tcp://" + b.address();
}

std::pair<int, std::string> not_found(const BackendRequest&) {
  return {404, R"({"message":"No such container: gone"})"};
}

}  // namespace

TEST_CASE("the client speaks the lower of the engine's API version and its own") {
  TestBackend old_engine(engine("1.41", not_found));
  CHECK(containers::DockerEngine(tcp(old_engine)).api_version() == "1.41");
  TestBackend new_engine(engine("1.47", not_found));
  containers::DockerEngine client(tcp(new_engine));
  CHECK(client.api_version() == "1.43");
  CHECK_THROWS(client.inspect("gone"));
  CHECK(new_engine.requests().back().target == "/v1.43/containers/gone/json");
}

TEST_CASE("create sends the image, env, labels, network and stop timeout, and returns the id") {
  TestBackend e(engine("1.41", [](const BackendRequest& r) {
    return r.target.rfind("/v1.41/containers/create", 0) == 0
               ? std::make_pair(201, std::string(R"({"Id":"c0ffee","Warnings":[]})"))
               : std::make_pair(500, std::string(R"({"message":"unexpected"})"));
  }));
  containers::DockerEngine client(tcp(e));
  containers::ContainerSpec spec;
  spec.name = "web 1";
  spec.image = "app:v2";
  spec.env = {"PORT=9001"};
  spec.labels = {{"handoff.service", "web"}};
  spec.network = "host";
  spec.stop_timeout = std::chrono::seconds(7);
  CHECK(client.create(spec) == "c0ffee");
  const BackendRequest sent = e.requests().back();
  CHECK(sent.method == "POST");
  CHECK(sent.target == "/v1.41/containers/create?name=web%201");
  const json::object body = json::parse(sent.body).as_object();
  CHECK(body.at("Image") == "app:v2");
  CHECK(body.at("Env") == json::array{"PORT=9001"});
  CHECK(body.at("Labels").at("handoff.service") == "web");
  CHECK(body.at("HostConfig").at("NetworkMode") == "host");
  CHECK(body.at("StopTimeout") == 7);
}

TEST_CASE("inspect reads state, exit code, health, labels and addresses") {
  TestBackend e(engine("1.41", [](const BackendRequest&) {
    return std::make_pair(200, std::string(R"({
      "Id": "c0ffee", "Name": "/web-3",
      "State": {"Status": "running", "Running": true, "ExitCode": 0,
                "Health": {"Status": "starting"}},
      "Config": {"Image": "app:v3", "Labels": {"handoff.port": "9001"}, "Env": ["A=1"]},
      "NetworkSettings": {"Networks": {"appnet": {"IPAddress": "10.1.2.3"}}}})"));
  }));
  const containers::ContainerInfo info = containers::DockerEngine(tcp(e)).inspect("c0ffee");
  CHECK(info.name == "web-3");
  CHECK(info.running);
  CHECK(info.state == "running");
  CHECK(info.health == "starting");
  CHECK(info.image == "app:v3");
  CHECK(info.labels.at("handoff.port") == "9001");
  CHECK(info.env == std::vector<std::string>{"A=1"});
  CHECK(info.ips.at("appnet") == "10.1.2.3");
}

TEST_CASE("an engine error carries the engine's status and message") {
  TestBackend e(engine("1.41", not_found));
  containers::DockerEngine client(tcp(e));
  try {
    client.start("gone");
    FAIL("start of a missing container succeeded");
  } catch (const containers::EngineError& err) {
    CHECK(err.status() == 404);
    CHECK(std::string(err.what()).find("No such container: gone") != std::string::npos);
  }
}

TEST_CASE("an engine that cannot be reached, or a bad DOCKER_HOST, is a clear error") {
  int port = 0;
  {
    TestBackend gone(engine("1.41", not_found));
    port = gone.port();
  }
  try {
    containers::DockerEngine client(fmt::format("tcp://127.0.0.1:{}", port));
    FAIL("an engine with nothing listening was reached");
  } catch (const containers::EngineError& err) {
    CHECK(err.status() == 0);
  }
  try {
    containers::DockerEngine client("ssh://somewhere");
    FAIL("an ssh DOCKER_HOST was accepted");
  } catch (const containers::EngineError& err) {
    CHECK(std::string(err.what()).find("must be unix://PATH or tcp://HOST:PORT") !=
          std::string::npos);
  }
  try {
    containers::DockerEngine client("unix:///nonexistent/docker.sock");
    FAIL("a missing socket was reached");
  } catch (const containers::EngineError& err) {
    CHECK(std::string(err.what()).find("is dockerd running?") != std::string::npos);
  }
}
