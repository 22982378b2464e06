#pragma once

#include <optional>

#include "control/base/domain_error.hpp"

namespace handoff::test {

/// The kind of the DomainError `fn` throws; empty when it throws none.
template <typename Fn>
std::optional<control::ErrorKind> refusal(Fn&& fn) {
  try {
    fn();
  } catch (const control::DomainError& e) {
    return e.kind();
  }
  return std::nullopt;
}

}  // namespace handoff::test
