#pragma once

#include <functional>
#include <memory>
#include <string>

#include "proxy/server.hpp"

namespace handoff::test {

/// An in-process proxy on 127.0.0.1 (port 0) with one service, `default`, so that tests can
/// drive the swap and drain API directly.
class ProxyUnderTest {
 public:
  /// Starts it with `upstream` as the service's upstream; `tweak` adjusts the configuration.
  explicit ProxyUnderTest(const std::string& upstream,
                          const std::function<void(proxy::ProxyConfig&)>& tweak = {});
  ~ProxyUnderTest();

  /// The port clients connect to.
  [[nodiscard]] std::uint16_t port() const {
    return (server_->local_endpoints().empty() ? server_->tls_endpoints()
                                               : server_->local_endpoints())
        .front()
        .port();
  }
  /// The server.
  proxy::Server& server() { return *server_; }
  /// The `default` service.
  proxy::Service& service() { return *service_; }
  /// Swaps the service to `address` and returns the members it retired.
  std::vector<std::shared_ptr<proxy::Upstream>> swap_to(const std::string& address) {
    return server_->swap(*service_, proxy::UpstreamSet::of(server_->make_upstream(address)));
  }
  /// The `default` service's first member.
  proxy::Upstream& upstream() { return *service_->upstreams()->members().front(); }

 private:
  std::unique_ptr<proxy::Server> server_;
  std::shared_ptr<proxy::Service> service_;
};

}  // namespace handoff::test
