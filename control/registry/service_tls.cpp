#include "control/registry/service_tls.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <stdexcept>

#include "control/base/domain_error.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

// Whether a certificate name (`*.example.com` covers exactly one more label) covers `host`.
bool name_covers(std::string_view name, std::string_view host) {
  if (name == host) {
    return true;
  }
  if (!name.starts_with("*.") || host.starts_with("*.")) {
    return false;
  }
  const std::size_t dot = host.find('.');
  return dot != std::string_view::npos && dot > 0 && host.substr(dot) == name.substr(1);
}

}  // namespace

std::vector<std::string> uncovered_hosts(const proxy::Certificate& certificate,
                                         const std::vector<std::string>& hosts) {
  std::vector<std::string> uncovered;
  for (const std::string& entry : hosts) {
    const std::string host = entry.substr(0, entry.find('/'));
    if (host.empty()) {
      continue;  // a prefix on every host: no name of its own
    }
    const bool covered = std::ranges::any_of(
        certificate.names(), [&](const std::string& name) { return name_covers(name, host); });
    if (!covered) {
      uncovered.push_back(host);
    }
  }
  return uncovered;
}

std::string_view source_name(CertificateSource source) {
  switch (source) {
    case CertificateSource::given:
      return "given";
    case CertificateSource::acme:
      return "acme";
    case CertificateSource::none:
      break;
  }
  return "off";
}

CertificateSource parse_source(std::string_view name) {
  for (auto s : {CertificateSource::none, CertificateSource::given, CertificateSource::acme}) {
    if (name == source_name(s)) {
      return s;
    }
  }
  throw std::invalid_argument(fmt::format("unknown certificate source '{}'", name));
}

TlsChange TlsChange::from(const TlsRequest& request) {
  TlsChange change;
  const bool has_cert = request.tls_cert.has_value();
  if (has_cert != request.tls_key.has_value()) {
    throw DomainError(ErrorKind::invalid, "missing_field",
                      "fields 'tls_cert' and 'tls_key' go together");
  }
  if (request.tls) {
    const std::string& mode = *request.tls;
    if (mode != "acme" && mode != "off") {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        "field 'tls' must be \"acme\" (an automatic certificate) or \"off\"");
    }
    if (has_cert) {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        "give either a certificate (tls_cert, tls_key) or 'tls', not both");
    }
    change.source = mode == "acme" ? CertificateSource::acme : CertificateSource::none;
  }
  if (has_cert) {
    try {
      change.certificate = proxy::Certificate::parse(*request.tls_cert, *request.tls_key);
    } catch (const proxy::CertificateError& e) {
      throw DomainError(ErrorKind::invalid, "bad_certificate", e.what());
    }
    change.source = CertificateSource::given;
  }
  change.redirect_https = request.redirect_https;
  if (request.hsts) {
    change.hsts_seconds = static_cast<std::uint32_t>(*request.hsts);
  }
  return change;
}

ServiceTls TlsChange::applied_to(ServiceTls current) const {
  if (source) {
    // A switch to acme keeps the certificate until the first one is issued; off drops it.
    if (*source == CertificateSource::none || *source == CertificateSource::given) {
      current.certificate = certificate;
      current.issued_by_acme = false;
    }
    current.source = *source;
  }
  current.redirect_https = redirect_https.value_or(current.redirect_https);
  current.hsts_seconds = hsts_seconds.value_or(current.hsts_seconds);
  return current;
}

bool TlsChange::changes(const ServiceTls& current) const {
  const ServiceTls next = applied_to(current);
  const auto pem = [](const ServiceTls& t) {
    return t.certificate ? t.certificate->chain_pem() + t.certificate->key_pem() : std::string();
  };
  return next.source != current.source || pem(next) != pem(current) ||
         next.redirect_https != current.redirect_https || next.hsts_seconds != current.hsts_seconds;
}

json::object tls_status(const ServiceTls& tls) {
  json::object o;
  if (tls.source == CertificateSource::none && !tls.redirect_https && tls.hsts_seconds == 0) {
    return o;
  }
  o["certificate"] = source_name(tls.source);
  if (tls.certificate) {
    json::array names;
    for (const std::string& n : tls.certificate->names()) {
      names.emplace_back(n);
    }
    o["names"] = std::move(names);
    const auto expires = tls.certificate->not_after();
    o["not_after"] = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                                 fmt::gmtime(std::chrono::system_clock::to_time_t(expires)));
    o["expired"] = expires <= std::chrono::system_clock::now();
  }
  o["redirect_https"] = tls.redirect_https;
  o["hsts"] = tls.hsts_seconds;
  if (tls.source == CertificateSource::acme) {
    // The state is not saved: after a restart, a certificate ACME issued before is valid
    // until the manager says otherwise.
    std::string state = tls.acme.state;
    if (state.empty()) {
      state = tls.certificate && tls.issued_by_acme ? "valid" : "pending";
    }
    o["acme"] = json::object{
        {"state", state}, {"error", tls.acme.error}, {"next_attempt", tls.acme.next_attempt}};
  }
  return o;
}

}  // namespace handoff::control
