#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/state_store.hpp"
#include "proxy/server.hpp"
#include "proxy/upstream_set.hpp"

namespace handoff::control {

/// The container an upstream runs in, when handoff deployed it.
struct ContainerRef {
  std::string id;
  std::string name;
  std::string image;
};

/// Resolves a service's upstream addresses into a set of new members of `generation` (null for
/// none); a bad or repeated address is a DomainError 400.
std::shared_ptr<const proxy::UpstreamSet> make_set(proxy::Server& server,
                                                   const std::vector<std::string>& addresses,
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
