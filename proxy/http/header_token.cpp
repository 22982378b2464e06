#include "proxy/http/header_token.hpp"

#include <array>
#include <cstddef>

#include "proxy/http/http_head.hpp"

namespace handoff::proxy {
namespace {

struct TokenEntry {
  std::string_view name;  // lower case
  HeaderToken token;
  std::uint8_t flags;
};

// One table for every rule about a field's name. Ordered by token, so that the flags of a
// token are found by index.
constexpr std::array<TokenEntry, 17> kTokens{{
    {"", HeaderToken::other, 0},
    {"connection", HeaderToken::connection, kHopByHop},
    {"content-length", HeaderToken::content_length, kFraming},
    {"expect", HeaderToken::expect, 0},
    {"host", HeaderToken::host, kSetByProxyOnRequest},
    {"keep-alive", HeaderToken::keep_alive, kHopByHop},
    {"proxy-connection", HeaderToken::proxy_connection, kHopByHop},
    {"te", HeaderToken::te, kHopByHop},
    {"transfer-encoding", HeaderToken::transfer_encoding, kHopByHop | kFraming},
    {"upgrade", HeaderToken::upgrade, kHopByHop},
    {"via", HeaderToken::via, 0},
    {"x-forwarded-for", HeaderToken::x_forwarded_for, 0},
    {"x-forwarded-host", HeaderToken::x_forwarded_host, kSetByProxyOnRequest},
    {"x-forwarded-proto", HeaderToken::x_forwarded_proto, kSetByProxyOnRequest},
    {"x-request-id", HeaderToken::x_request_id, 0},
    {"cookie", HeaderToken::cookie, 0},
    // The settings of an h2c upgrade (RFC 7540 §3.2.1), which is never forwarded.
    {"http2-settings", HeaderToken::http2_settings, kHopByHop},
}};

constexpr bool table_is_ordered() {
  for (std::size_t i = 0; i < kTokens.size(); ++i) {
    if (static_cast<std::size_t>(kTokens[i].token) != i) {
      return false;
    }
  }
  return true;
}
static_assert(table_is_ordered(), "kTokens must list the tokens in their enum order");

// Names by length, so that a lookup compares at most two names (this runs for every field of
// every message). Built from kTokens at compile time.
struct ByLength {
  std::array<std::array<HeaderToken, 2>, 18> slots{};
};

constexpr ByLength index_by_length() {
  ByLength index;
  for (const TokenEntry& e : kTokens) {
    if (e.token == HeaderToken::other) {
      continue;
    }
    auto& slot = index.slots.at(e.name.size());
    if (slot[1] != HeaderToken::other) {
      throw "more than two names of one length: widen the slots";  // a compile error here
    }
    slot.at(slot[0] == HeaderToken::other ? 0 : 1) = e.token;
  }
  return index;
}
constexpr ByLength kByLength = index_by_length();

// ASCII lower case of each byte.
constexpr std::array<unsigned char, 256> kLower = [] {
  std::array<unsigned char, 256> t{};
  for (std::size_t c = 0; c < t.size(); ++c) {
    t[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return t;
}();

// Whether `name` equals `lower` (a lower-case name of the same length) but for case.
bool equals_lower(std::string_view name, std::string_view lower) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (kLower[static_cast<unsigned char>(name[i])] != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

HeaderToken header_token(std::string_view name) {
  if (name.size() >= kByLength.slots.size()) {
    return HeaderToken::other;
  }
  for (HeaderToken candidate : kByLength.slots[name.size()]) {
    if (candidate != HeaderToken::other &&
        equals_lower(name, kTokens[static_cast<std::size_t>(candidate)].name)) {
      return candidate;
    }
  }
  return HeaderToken::other;
}

std::uint8_t header_flags(HeaderToken token) {
  return kTokens[static_cast<std::size_t>(token)].flags;
}

}  // namespace handoff::proxy
