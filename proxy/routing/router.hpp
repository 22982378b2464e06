#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/routing/service.hpp"
#include "proxy/routing/shared_slot.hpp"

namespace handoff::proxy {

/// Writes a Host value (or a TLS server name) into `out` as routing and certificate lookup
/// compare it: without its port or a trailing dot, lowercased. False when it is too long.
bool normalize_host(std::string_view host, std::array<char, 256>& out, std::string_view& result);

/// A service and what it answers: Host names (exact, or `*.example.com` wildcards), each with
/// an optional path prefix (`example.com/api`), or a prefix on every host (`/api`).
struct Route {
  std::shared_ptr<Service> service;
  std::vector<std::string> hosts;
  bool strip_prefix = false;  ///< the matched prefix is removed from the forwarded path
};

/// Where a request goes.
struct RouteMatch {
  Service* service = nullptr;  ///< null: no service claims the request
  std::size_t strip = 0;       ///< bytes of the path to remove before forwarding
};

/// The immutable route table: Host name → service. A change builds a new table.
class RouteTable {
 public:
  /// Builds the table; the service named `default` catches hosts no route names.
  explicit RouteTable(std::vector<Route> routes);

  /// The service for a Host field value (port and case ignored) and a path: the longest
  /// matching prefix among the host's entries wins, then wildcard hosts, then prefixes on any
  /// host, then `default`. No service: null.
  [[nodiscard]] RouteMatch match(std::string_view host, std::string_view path) const;
  /// The service for a Host, whatever the path (entries without a prefix).
  [[nodiscard]] Service* find(std::string_view host) const { return match(host, "/").service; }
  /// Every route, in the order given.
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }
  /// The service with this name, or null.
  [[nodiscard]] std::shared_ptr<Service> service(std::string_view name) const;

 private:
  // Transparent hashing, so that a lookup by string_view allocates nothing per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  /// One host's entries: path prefixes ("" for none), longest first.
  struct Prefixed {
    std::string prefix;
    Service* service;
    bool strip;
  };
  using Candidates = std::vector<Prefixed>;
  static void add(Candidates& to, std::string prefix, Service* service, bool strip);
  static const Prefixed* pick(const Candidates& candidates, std::string_view path);

  std::vector<Route> routes_;
  std::unordered_map<std::string, Candidates, NameHash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, Candidates>> wildcards_;  // suffix such as ".example.com"
  Candidates any_host_;                                        // entries such as "/api"
  Service* fallback_ = nullptr;
};

/// Owns the route table behind an atomically replaceable pointer. Workers keep a cached copy
/// that they refresh when the generation changes, so the request path takes no lock.
class Router {
 public:
  /// `threads` is the number of data-plane workers.
  explicit Router(unsigned threads);

  /// Installs a new table with one atomic store; requests in flight keep the one they read.
  void replace(std::shared_ptr<const RouteTable> table);
  /// The current table as seen by worker `w` (data plane).
  const RouteTable& table_for(unsigned w);

 private:
  struct alignas(64) Cache {
    std::uint64_t generation = 0;
    std::shared_ptr<const RouteTable> table;
  };

  SharedSlot<const RouteTable> table_;
  std::atomic<std::uint64_t> generation_{1};
  std::unique_ptr<Cache[]> cache_;
};

}  // namespace handoff::proxy
