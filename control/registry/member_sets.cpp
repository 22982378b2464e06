#include "control/registry/member_sets.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "control/base/domain_error.hpp"

namespace handoff::control {

ResolvedAddresses resolve_addresses(const Resolver& resolve,
                                    const std::vector<std::string>& addresses) {
  ResolvedAddresses resolved;
  for (const auto& address : addresses) {
    if (std::count(addresses.begin(), addresses.end(), address) > 1) {
      throw DomainError(ErrorKind::invalid, "bad_upstream",
                        fmt::format("upstream '{}' is listed twice", address));
    }
    try {
      const auto endpoints = resolve(address);
      if (endpoints.empty()) {
        throw std::runtime_error(fmt::format("cannot resolve '{}': no address", address));
      }
      resolved.endpoints.push_back(endpoints.front());
    } catch (const std::exception& e) {
      throw DomainError(ErrorKind::invalid, "bad_upstream", e.what());
    }
    resolved.addresses.push_back(address);
  }
  return resolved;
}

std::shared_ptr<const proxy::UpstreamSet> make_set(proxy::Server& server,
                                                   const ResolvedAddresses& resolved,
                                                   std::uint64_t generation) {
  if (resolved.addresses.empty()) {
    return nullptr;
  }
  std::vector<std::shared_ptr<proxy::Upstream>> members;
  for (std::size_t i = 0; i < resolved.addresses.size(); ++i) {
    members.push_back(
        server.make_upstream(resolved.addresses[i], resolved.endpoints[i], generation));
  }
  return std::make_shared<const proxy::UpstreamSet>(std::move(members));
}

std::vector<ContainerRef> refs_of(const std::vector<SavedContainer>& saved) {
  std::vector<ContainerRef> out;
  for (const SavedContainer& c : saved) {
    out.push_back(ContainerRef{c.id, c.name, c.image});
  }
  return out;
}

std::vector<SavedContainer> saved_of(const std::vector<ContainerRef>& refs) {
  std::vector<SavedContainer> out;
  for (const ContainerRef& c : refs) {
    out.push_back(SavedContainer{c.id, c.name, c.image});
  }
  return out;
}

bool holds(const std::vector<ContainerRef>& set, const std::string& id) {
  return std::any_of(set.begin(), set.end(), [&id](const ContainerRef& c) { return c.id == id; });
}

std::vector<std::string> addresses_of(const std::shared_ptr<const proxy::UpstreamSet>& set) {
  std::vector<std::string> out;
  if (set) {
    for (const auto& m : set->members()) {
      out.push_back(m->address());
    }
  }
  return out;
}

}  // namespace handoff::control
