#include "control/cli/tls_flags.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "control/base/text_file.hpp"
#include "control/cli/cli_support.hpp"
#include "proxy/http/whole_number.hpp"

namespace handoff::control {

void TlsFlags::add_to(std::vector<Flag>& flags) {
  flags.push_back({"tls-cert", "FILE", "the service's certificate for HTTPS (PEM, chain after it)",
                   [this](std::string_view v) { cert_file_ = v; }});
  flags.push_back({"tls-key", "FILE", "the private key (PEM) of --tls-cert",
                   [this](std::string_view v) { key_file_ = v; }});
  flags.push_back({"tls", "acme|off", "acme: get and renew a certificate automatically; off: none",
                   [this](std::string_view v) {
                     if (v != "acme" && v != "off") {
                       throw std::invalid_argument(
                           fmt::format("--tls takes acme or off, not '{}'", v));
                     }
                     mode_ = v;
                   }});
  flags.push_back({"redirect-https", "", "answer plain HTTP with a redirect to HTTPS (301/308)",
                   [this](std::string_view) { redirect_https_ = true; }});
  flags.push_back({"no-redirect-https", "", "serve plain HTTP too (the default)",
                   [this](std::string_view) { redirect_https_ = false; }});
  flags.push_back({"hsts", "SECONDS", "send Strict-Transport-Security max-age over HTTPS (0: off)",
                   [this](std::string_view v) { hsts_ = parse_in_range(v, kHstsRange); }});
}

bool TlsFlags::any() const {
  return !cert_file_.empty() || !key_file_.empty() || !mode_.empty() || redirect_https_ || hsts_;
}

void TlsFlags::write_to(TlsRequest& request) const {
  if (cert_file_.empty() != key_file_.empty()) {
    throw std::invalid_argument("--tls-cert and --tls-key go together");
  }
  if (!cert_file_.empty() && !mode_.empty()) {
    throw std::invalid_argument("give either --tls-cert/--tls-key or --tls, not both");
  }
  if (!cert_file_.empty()) {
    request.tls_cert = read_text_file(cert_file_, "--tls-cert");
    request.tls_key = read_text_file(key_file_, "--tls-key");
  }
  if (!mode_.empty()) {
    request.tls = mode_;
  }
  request.redirect_https = redirect_https_;
  request.hsts = hsts_;
}

}  // namespace handoff::control
