#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/service.hpp"
#include "proxy/shared_slot.hpp"

namespace handoff::proxy {

/// A service and the Host names it answers (exact names and `*.example.com` wildcards).
struct Route {
  std::shared_ptr<Service> service;
  std::vector<std::string> hosts;
};

/// The immutable route table: Host name → service. A change builds a new table.
class RouteTable {
 public:
  /// Builds the table; the service named `default` catches hosts no route names.
  explicit RouteTable(std::vector<Route> routes);

  /// The service for a Host field value (port and case ignored), or null when none matches.
  [[nodiscard]] Service* find(std::string_view host) const;
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

  std::vector<Route> routes_;
  std::unordered_map<std::string, Service*, NameHash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, Service*>> wildcards_;  // suffix such as ".example.com"
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
