#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "control/registry/state_store.hpp"
#include "proxy/server.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

/// The container an upstream runs in, when handoff deployed it.
struct ContainerRef {
  std::string id;
  std::string name;
  std::string image;
};

/// Looks up HOST:PORT (proxy::resolve_address, or a stand-in in tests); throws on failure.
using Resolver = std::function<std::vector<boost::asio::ip::tcp::endpoint>(std::string_view)>;

/// Upstream addresses, each with the endpoint it resolved to. Resolved before the registry
/// locks anything: a slow resolver holds up only the change that waits for it.
struct ResolvedAddresses {
  std::vector<std::string> addresses;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
};

/// Resolves a service's upstream addresses; a bad or repeated address is a DomainError 400.
ResolvedAddresses resolve_addresses(const Resolver& resolve,
                                    const std::vector<std::string>& addresses);
/// A set of new members of `generation` for resolved addresses (null for none); no lookup.
std::shared_ptr<const proxy::UpstreamSet> make_set(proxy::Server& server,
                                                   const ResolvedAddresses& resolved,
                                                   std::uint64_t generation);
/// The members' addresses, in member order (none for a null set).
std::vector<std::string> addresses_of(const std::shared_ptr<const proxy::UpstreamSet>& set);

/// Saved containers as the registry holds them.
std::vector<ContainerRef> refs_of(const std::vector<SavedContainer>& saved);
/// The registry's containers as saved.
std::vector<SavedContainer> saved_of(const std::vector<ContainerRef>& refs);
/// Whether `set` holds the container `id`.
bool holds(const std::vector<ContainerRef>& set, const std::string& id);

}  // namespace handoff::control
