#include "control/cli/registry_auth.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>

#include "tests/support/temp_dir.hpp"

using namespace handoff::control;

TEST_CASE("an image's registry is its first component when that is a host") {
  CHECK(registry_of("nginx") == "docker.io");
  CHECK(registry_of("library/nginx:1") == "docker.io");
  CHECK(registry_of("127.0.0.1:5000/app:v1") == "127.0.0.1:5000");
  CHECK(registry_of("registry.example/team/app") == "registry.example");
  CHECK(registry_of("localhost/app") == "localhost");
}

TEST_CASE("base64 round trips, in both alphabets") {
  CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64_decode("dXNlcjpwYXNz") == "user:pass");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("\xfb\xff", true) == "-_8=");
  CHECK(base64_decode("not base64!").empty());
}

TEST_CASE("registry credentials come from the Docker config for the image's registry") {
  handoff::test::TempDir dir;
  const auto file = (dir.path() / "config.json").string();
  std::ofstream(file) << R"({"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"},)"
                         R"("https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="}}})";
  const std::string header = registry_auth_for("127.0.0.1:5000/app:v1", file);
  REQUIRE_FALSE(header.empty());
  std::string json_text = header;
  for (char& c : json_text) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  const auto decoded = boost::json::parse(base64_decode(json_text)).as_object();
  CHECK(decoded.at("username").as_string() == "user");
  CHECK(decoded.at("password").as_string() == "pass");
  CHECK(decoded.at("serveraddress").as_string() == "127.0.0.1:5000");
  CHECK_FALSE(registry_auth_for("nginx:1", file).empty());
  CHECK(registry_auth_for("other.example/app", file).empty());
  CHECK_THROWS_AS(registry_auth_for("app", (dir.path() / "missing.json").string()),
                  std::invalid_argument);
}
