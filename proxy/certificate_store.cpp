#include "proxy/certificate_store.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace handoff::proxy {

namespace {

// A route host as a TLS name: without a path prefix or a port, lowercased. Empty for a route
// on every host ("/api").
std::string tls_name(std::string_view host) {
  host = host.substr(0, host.find('/'));
  if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
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
  if (!server_name.empty() && server_name.size() <= buffer.size()) {
    std::transform(server_name.begin(), server_name.end(), buffer.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string_view name(buffer.data(), server_name.size());
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
