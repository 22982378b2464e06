#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "proxy/http/http_head.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::proxy {

/// The cookie that keeps a client on one side of a canary split. Its value is the client's
/// bucket: a canary at P % takes the buckets below P × 100, so raising the percentage only
/// moves clients onto the canary, and a client stays where it is while the percentage holds.
inline constexpr std::string_view kCanaryCookie = "handoff_canary";
/// How many buckets clients are spread over (a canary's share is counted in them).
inline constexpr std::uint32_t kCanaryBuckets = 10'000;
/// No bucket: the client sent no valid canary cookie.
inline constexpr std::uint32_t kNoBucket = UINT32_MAX;

/// A canary: a second set of members beside the serving one, taking a share of the clients.
/// Immutable; a new share is a new Canary with the same set.
struct Canary {
  std::shared_ptr<const UpstreamSet> set;  ///< never null
  std::uint32_t share = 0;                 ///< buckets (of kCanaryBuckets) sent to the canary
};

/// Where a request goes while a canary runs. The bucket comes from `request`'s cookie, read
/// only when a canary runs (else kNoBucket); the service draws one when there is none and says
/// which set it chose.
struct Placement {
  std::uint32_t bucket = kNoBucket;
  bool split = false;   ///< a canary ran when the request was placed
  bool drawn = false;   ///< drawn for this request: the response carries the cookie
  bool canary = false;  ///< the request went to the canary set
  /// The request whose Cookie fields hold the bucket, set before each first placement; the
  /// service reads it while placing and forgets it (its bytes may be overwritten afterwards).
  const MessageHead* request = nullptr;
};

/// Which set a placed request went to, as the access log says it: "canary", "serving", or
/// empty when no canary ran.
inline std::string_view set_name(const Placement& p) {
  return !p.split ? std::string_view() : p.canary ? "canary" : "serving";
}

/// The client's bucket from the Cookie fields of `request` (every `handoff_canary=N` pair is
/// looked at; the first valid one wins), or kNoBucket.
std::uint32_t canary_bucket(const MessageHead& request);

/// Room for a Set-Cookie value.
using SetCookieBuffer = std::array<char, 80>;
/// The Set-Cookie value that keeps a client in `bucket`, written into `buffer`.
std::string_view canary_set_cookie(std::uint32_t bucket, SetCookieBuffer& buffer);
/// The Set-Cookie value the response to a request placed as `p` carries: the bucket drawn for
/// it, or empty when it came with one (or no canary ran).
inline std::string_view set_cookie_for(const Placement& p, SetCookieBuffer& buffer) {
  return p.drawn ? canary_set_cookie(p.bucket, buffer) : std::string_view();
}

}  // namespace handoff::proxy
