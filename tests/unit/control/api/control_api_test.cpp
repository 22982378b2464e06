// The control API's behaviour in-process: statuses, error codes and what each call changes,
// against a real registry and proxy and a fake container engine.
#include "control/api/control_api.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
namespace json = boost::json;

namespace {

struct Api {
  Harness h;
  control::ControlApi api{h.registry, h.server, h.engine.factory()};

  control::ApiResponse call(std::string method, std::string path, std::string body = {}) {
    return api.handle(control::ApiRequest{std::move(method), std::move(path), std::move(body)});
  }
  // The error code of a JSON error answer ("" for none).
  static std::string error_of(const control::ApiResponse& r) {
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    return !ec && v.is_object() && v.as_object().contains("error")
               ? std::string(v.as_object().at("error").as_string())
               : std::string();
  }
};

}  // namespace

TEST_CASE("the control API answers each misuse with its own status and error code") {
  Api a;
  CHECK(a.call("GET", "/v1/status").status == 200);
  CHECK(a.call("POST", "/v1/status").status == 405);
  CHECK(a.call("GET", "/v1/nothing").status == 404);
  CHECK(Api::error_of(a.call("POST", "/v1/services/nope/swap", R"({"to":"127.0.0.1:1"})")) ==
        "unknown_service");
  CHECK(a.call("POST", "/v1/services", R"({"name":"web","hosts":["x.test"]})").status == 409);
  CHECK(a.call("POST", "/v1/services", R"({"name":"api","hosts":["web.test"]})").status == 409);
  CHECK(a.call("POST", "/v1/services", R"({"name":"api","hosts":["bad host"]})").status == 400);
  CHECK(a.call("POST", "/v1/services", R"({"name":"api","hostz":[]})").status == 400);
  CHECK(a.call("POST", "/v1/services/web/swap", R"({"to":"nowhere"})").status == 400);
  CHECK(Api::error_of(a.call("POST", "/v1/services/web/rollback", "{}")) == "nothing_to_roll_back");
  CHECK(Api::error_of(a.call("POST", "/v1/services/web/logs", "{}")) == "no_container");
}

TEST_CASE("adding, updating and removing a service through the API changes the routes") {
  Api a;
  REQUIRE(a.call("POST", "/v1/services", R"({"name":"api","hosts":["api.test"]})").status == 201);
  CHECK(a.h.registry.exists("api"));
  REQUIRE(a.call("PATCH", "/v1/services/api", R"({"hosts":["api2.test"]})").status == 200);
  CHECK(a.h.registry.has_hosts("api", {"api2.test"}));
  REQUIRE(a.call("DELETE", "/v1/services/api").status == 200);
  CHECK_FALSE(a.h.registry.exists("api"));
}

TEST_CASE("long calls come back as operations, and nothing is accepted once shutting down") {
  Api a;
  const control::ApiResponse deploy = a.call("POST", "/v1/services/web/deploy",
                                             R"({"image":"app:v1","host_network":true,)"
                                             R"("health_interval":"20ms"})");
  REQUIRE(deploy.operation);
  Events events;
  CHECK(code_of(deploy.operation(events)) == "ok");
  CHECK(a.h.get() == "app:v1");
  CHECK(a.call("POST", "/v1/services/web/logs", R"({"follow":true})").operation);
  a.api.shutting_down();
  CHECK(Api::error_of(a.call("GET", "/v1/status")) == "shutting_down");
}

TEST_CASE("each kind of domain error becomes its own HTTP status, at the API edge only") {
  using control::ErrorKind;
  using control::http_status;
  CHECK(http_status(ErrorKind::invalid) == 400);
  CHECK(http_status(ErrorKind::not_found) == 404);
  CHECK(http_status(ErrorKind::method_not_allowed) == 405);
  CHECK(http_status(ErrorKind::conflict) == 409);
  CHECK(http_status(ErrorKind::check_failed) == 422);
  CHECK(http_status(ErrorKind::engine_failed) == 502);
  CHECK(http_status(ErrorKind::unavailable) == 503);
  CHECK(http_status(ErrorKind::internal) == 500);
  // A refusal thrown deep in the registry arrives as the status of its kind.
  Api a;
  const control::ApiResponse r = a.call("DELETE", "/v1/services/nope");
  CHECK(r.status == 404);
  CHECK(Api::error_of(r) == "unknown_service");
}

TEST_CASE("canary calls refuse bad input and calls that need a canary, and change nothing") {
  Api a;
  const auto swap = [&a](const std::string& body) {
    return a.call("POST", "/v1/services/web/swap", body);
  };
  CHECK(swap(R"({"to":"127.0.0.1:1","canary":"ten"})").status == 400);
  CHECK(swap(R"({"to":"127.0.0.1:1","canary":"101%"})").status == 400);
  CHECK(swap(R"({"to":"127.0.0.1:1","canary":true})").status == 400);
  CHECK(swap(R"({"to":"127.0.0.1:1","canary":"10%","window":"0s"})").status == 400);
  CHECK(swap(R"({"to":"127.0.0.1:1","canary":"10%","min_requests":0})").status == 400);
  CHECK(Api::error_of(swap(R"({"to":"127.0.0.1:1","bake":"10m"})")) == "bad_field");
  CHECK(Api::error_of(a.call("POST", "/v1/services/web/promote", "{}")) == "no_canary");
  CHECK(Api::error_of(a.call("POST", "/v1/services/web/canary", R"({"percent":"50%"})")) ==
        "no_canary");
  CHECK(Api::error_of(a.call("POST", "/v1/services/web/canary", "{}")) == "missing_field");
  CHECK(Api::error_of(a.call("POST", "/v1/services/nope/promote", "{}")) == "unknown_service");
  // A scale takes no canary fields.
  CHECK(a.call("POST", "/v1/services/web/scale", R"({"replicas":2,"canary":"10%"})").status == 400);
  CHECK(a.h.registry.canaries().empty());
}
