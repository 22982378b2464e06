#include "tests/support/proxy_under_test.hpp"

#include "tests/support/test_certificates.hpp"
#include "tests/support/tls_client.hpp"

namespace handoff::test {

ProxyUnderTest::ProxyUnderTest(const std::string& upstream,
                               const std::function<void(proxy::ProxyConfig&)>& tweak) {
  proxy::ProxyConfig config;
  (tls_mode() ? config.listen_tls : config.listen)
      .emplace_back(boost::asio::ip::make_address("127.0.0.1"), 0);
  config.threads = 2;
  config.access_log = false;
  config.shutdown_timeout = std::chrono::seconds(2);
  if (tweak) {
    tweak(config);
  }
  server_ = std::make_unique<proxy::Server>(config);
  if (tls_mode()) {
    const TestCertificate& cert = shared_test_certificate();
    server_->tls().replace(std::make_shared<const proxy::CertificateStore>(
        std::vector<proxy::CertificateEntry>{},
        proxy::Certificate::parse(cert.chain_pem, cert.key_pem)));
    mark_tls_port(port());
  }
  service_ = std::make_shared<proxy::Service>(
      "default", config.threads, proxy::UpstreamSet::of(server_->make_upstream(upstream)));
  server_->router().replace(std::make_shared<const proxy::RouteTable>(
      std::vector<proxy::Route>{proxy::Route{service_, {}}}));
  server_->start();
}

ProxyUnderTest::~ProxyUnderTest() {
  mark_tls_port(port(), false);  // the port may go to another proxy, a plain one
  server_->shutdown();
}

}  // namespace handoff::test
