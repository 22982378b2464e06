#include "proxy/routing/router.hpp"

#include <algorithm>
#include <array>

namespace handoff::proxy {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

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

RouteTable::RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (const Route& r : routes_) {
    if (r.service->name() == "default") {
      fallback_ = r.service.get();
    }
    for (const std::string& entry : r.hosts) {
      const std::size_t slash = entry.find('/');
      std::string name = entry.substr(0, slash);
      std::string prefix = slash == std::string::npos ? std::string() : entry.substr(slash);
      std::transform(name.begin(), name.end(), name.begin(), lower);
      if (name.empty()) {
        add(any_host_, std::move(prefix), r.service.get(), r.strip_prefix);
      } else if (name.rfind("*.", 0) == 0) {
        auto it = std::find_if(wildcards_.begin(), wildcards_.end(),
                               [&](const auto& w) { return w.first == name.substr(1); });
        if (it == wildcards_.end()) {
          wildcards_.emplace_back(name.substr(1), Candidates{});
          it = std::prev(wildcards_.end());
        }
        add(it->second, std::move(prefix), r.service.get(), r.strip_prefix);
      } else {
        add(exact_[name], std::move(prefix), r.service.get(), r.strip_prefix);
      }
    }
  }
  // Longest suffix first, so that `*.a.example.com` wins over `*.example.com`.
  std::sort(wildcards_.begin(), wildcards_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

void RouteTable::add(Candidates& to, std::string prefix, Service* service, bool strip) {
  while (prefix.size() > 1 && prefix.back() == '/') {
    prefix.pop_back();  // "/api/" claims what "/api" does
  }
  if (prefix == "/") {
    prefix.clear();
  }
  to.push_back(Prefixed{std::move(prefix), service, strip});
  std::stable_sort(to.begin(), to.end(),
                   [](const auto& a, const auto& b) { return a.prefix.size() > b.prefix.size(); });
}

// The longest prefix that matches `path` on a segment boundary: "/api" takes "/api",
// "/api/x" and "/api?q", never "/apix".
const RouteTable::Prefixed* RouteTable::pick(const Candidates& candidates, std::string_view path) {
  for (const Prefixed& c : candidates) {
    if (path.starts_with(c.prefix) &&
        (path.size() == c.prefix.size() || path[c.prefix.size()] == '/' ||
         path[c.prefix.size()] == '?' || c.prefix.empty())) {
      return &c;
    }
  }
  return nullptr;
}

RouteMatch RouteTable::match(std::string_view host, std::string_view path) const {
  auto found = [](const Prefixed* p) {
    return RouteMatch{p->service, p->strip ? p->prefix.size() : 0};
  };
  if (!exact_.empty() || !wildcards_.empty()) {
    std::array<char, 256> buf;
    std::string_view name;
    if (normalize_host(host, buf, name)) {
      if (auto it = exact_.find(name); it != exact_.end()) {
        if (const Prefixed* p = pick(it->second, path)) {
          return found(p);
        }
      }
      for (const auto& [suffix, candidates] : wildcards_) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
          if (const Prefixed* p = pick(candidates, path)) {
            return found(p);
          }
        }
      }
    }
  }
  if (const Prefixed* p = pick(any_host_, path)) {
    return found(p);
  }
  return RouteMatch{fallback_, 0};
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
