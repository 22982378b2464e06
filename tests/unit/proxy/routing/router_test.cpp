#include "proxy/routing/router.hpp"

#include <doctest/doctest.h>

#include "proxy/address.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;

namespace {
std::shared_ptr<Upstream> upstream(std::uint16_t port) {
  return handoff::test::loopback_upstream(port);
}
}  // namespace

TEST_CASE("hosts route to services by exact name, wildcard, then default") {
  auto app = std::make_shared<Service>("app", 1, UpstreamSet::of(upstream(1)));
  auto api = std::make_shared<Service>("api", 1, UpstreamSet::of(upstream(2)));
  auto fallback = std::make_shared<Service>("default", 1, UpstreamSet::of(upstream(3)));
  RouteTable table(
      {{app, {"app.example.com"}}, {api, {"*.api.example.com", "API.test"}}, {fallback, {}}});
  CHECK(table.find("app.example.com") == app.get());
  CHECK(table.find("App.Example.com:8080") == app.get());
  CHECK(table.find("v1.api.example.com") == api.get());
  CHECK(table.find("api.test") == api.get());
  CHECK(table.find("api.example.com") == fallback.get());
  CHECK(table.find("") == fallback.get());
  RouteTable no_default({{app, {"app.example.com"}}});
  CHECK(no_default.find("other") == nullptr);
}

TEST_CASE("path prefixes: the longest match on a segment boundary wins, then wildcards, any host") {
  auto site = std::make_shared<Service>("site", 1, UpstreamSet::of(upstream(1)));
  auto api = std::make_shared<Service>("api", 1, UpstreamSet::of(upstream(2)));
  auto v2 = std::make_shared<Service>("v2", 1, UpstreamSet::of(upstream(3)));
  auto assets = std::make_shared<Service>("assets", 1, UpstreamSet::of(upstream(4)));
  auto fallback = std::make_shared<Service>("default", 1, UpstreamSet::of(upstream(5)));
  RouteTable table({{site, {"example.com"}},
                    {api, {"example.com/api"}, true},
                    {v2, {"example.com/api/v2/"}},
                    {assets, {"/static"}},
                    {fallback, {}}});
  CHECK(table.match("example.com", "/").service == site.get());
  CHECK(table.match("example.com", "/apix").service == site.get());
  CHECK(table.match("example.com", "/api").service == api.get());
  CHECK(table.match("example.com", "/api").strip == 4);
  CHECK(table.match("example.com", "/api?q=1").service == api.get());
  CHECK(table.match("EXAMPLE.com:80", "/api/users").service == api.get());
  CHECK(table.match("example.com", "/api/v2/users").service == v2.get());
  CHECK(table.match("example.com", "/api/v2/users").strip == 0);
  CHECK(table.match("example.com", "/API").service == site.get());  // paths are case-sensitive
  CHECK(table.match("other.test", "/static/app.js").service == assets.get());
  CHECK(table.match("other.test", "/").service == fallback.get());
  CHECK(table.match("example.com", "/static/app.js").service == site.get());  // host first
  CHECK(table.find("example.com") == site.get());
}
