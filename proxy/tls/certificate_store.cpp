#include "proxy/tls/certificate_store.hpp"

#include <algorithm>
#include <array>

#include "proxy/routing/router.hpp"

namespace handoff::proxy {

namespace {

// A route host as a TLS name, compared as routing compares it: without a path prefix or a
// port, lowercased. Empty for a route on every host ("/api") or one too long to be a name.
std::string tls_name(std::string_view host) {
  std::array<char, 256> buffer{};
  std::string_view name;
  return normalize_host(host.substr(0, host.find('/')), buffer, name) ? std::string(name)
                                                                      : std::string();
}

}  // namespace

CertificateStore::CertificateStore(const std::vector<CertificateEntry>& entries,
                                   std::shared_ptr<const Certificate> fallback)
    : fallback_(std::move(fallback)) {
  for (const CertificateEntry& e : entries) {
    for (const std::string& host : e.hosts) {
      claim(tls_name(host), e.certificate);
    }
  }
  for (const CertificateEntry& e : entries) {
    for (const std::string& name : e.certificate->names()) {
      claim(tls_name(name), e.certificate);
    }
  }
}

// The first claim of a name wins (see CertificateEntry::hosts).
void CertificateStore::claim(std::string name,
                             const std::shared_ptr<const Certificate>& certificate) {
  if (!name.empty()) {
    by_name_.emplace(std::move(name), certificate);
  }
}

const Certificate* CertificateStore::find(std::string_view server_name) const {
  std::array<char, 256> buffer{};
  std::string_view name;
  if (!server_name.empty() && normalize_host(server_name, buffer, name)) {
    if (auto it = by_name_.find(name); it != by_name_.end()) {
      return it->second.get();
    }
    // "a.example.com" is covered by "*.example.com"; "example.com" and "b.a.example.com" are not.
    if (const std::size_t dot = name.find('.'); dot != std::string_view::npos && dot > 0) {
      std::array<char, 258> wildcard{'*'};
      const std::string_view rest = name.substr(dot);
      std::copy(rest.begin(), rest.end(), wildcard.begin() + 1);
      if (auto it = by_name_.find(std::string_view(wildcard.data(), rest.size() + 1));
          it != by_name_.end()) {
        return it->second.get();
      }
    }
  }
  return fallback_.get();
}

}  // namespace handoff::proxy
