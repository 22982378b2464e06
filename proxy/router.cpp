#include "proxy/router.hpp"

#include <algorithm>
#include <array>

namespace handoff::proxy {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Strips the port and lowercases a Host value into `out`; false when it is too long.
bool normalize_host(std::string_view host, std::array<char, 256>& out, std::string_view& result) {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    host = host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
  } else if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);  // a fully qualified name names the same host
  }
  if (host.size() > out.size()) {
    return false;
  }
  std::transform(host.begin(), host.end(), out.begin(), lower);
  result = std::string_view(out.data(), host.size());
  return true;
}

}  // namespace

RouteTable::RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& r : routes_) {
    if (r.service->name() == "default") {
      fallback_ = r.service.get();
    }
    for (const std::string& h : r.hosts) {
      std::string name(h);
      std::transform(name.begin(), name.end(), name.begin(), lower);
      if (name.rfind("*.", 0) == 0) {
        wildcards_.emplace_back(name.substr(1), r.service.get());
      } else {
        exact_.emplace(std::move(name), r.service.get());
      }
    }
  }
  // Longest suffix first, so that `*.a.example.com` wins over `*.example.com`.
  std::sort(wildcards_.begin(), wildcards_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

Service* RouteTable::find(std::string_view host) const {
  if (exact_.empty() && wildcards_.empty()) {
    return fallback_;
  }
  std::array<char, 256> buf;
  std::string_view name;
  if (normalize_host(host, buf, name)) {
    if (auto it = exact_.find(name); it != exact_.end()) {
      return it->second;
    }
    for (const auto& [suffix, service] : wildcards_) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        return service;
      }
    }
  }
  return fallback_;
}

std::shared_ptr<Service> RouteTable::service(std::string_view name) const {
  for (const Route& r : routes_) {
    if (r.service->name() == name) {
      return r.service;
    }
  }
  return nullptr;
}

Router::Router(unsigned threads)
    : table_(std::make_shared<const RouteTable>(std::vector<Route>{})),
      cache_(new Cache[threads]) {}

void Router::replace(std::shared_ptr<const RouteTable> table) {
  table_.exchange(std::move(table));
  generation_.fetch_add(1, std::memory_order_release);
}

const RouteTable& Router::table_for(unsigned w) {
  Cache& cache = cache_[w];
  const std::uint64_t seen = generation_.load(std::memory_order_acquire);
  if (seen != cache.generation) {
    cache.table = table_.load();
    cache.generation = seen;
  }
  return *cache.table;
}

}  // namespace handoff::proxy
