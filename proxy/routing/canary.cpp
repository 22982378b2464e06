#include "proxy/routing/canary.hpp"

#include <fmt/format.h>

#include "proxy/http/whole_number.hpp"

namespace handoff::proxy {
namespace {

// The bucket in one Cookie field's value (`a=1; handoff_canary=42`), or kNoBucket. Spaces and
// tabs around a pair or its parts are skipped (RFC 6265 §5.2).
std::uint32_t bucket_in(std::string_view cookies) {
  while (!cookies.empty()) {
    const std::size_t end = cookies.find(';');
    const std::string_view pair = trim_ows(cookies.substr(0, end));
    cookies = end == std::string_view::npos ? std::string_view() : cookies.substr(end + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != kCanaryCookie) {
      continue;
    }
    const std::string_view value = trim_ows(pair.substr(eq + 1));
    if (const auto n = parse_whole_number<std::uint32_t>(value); n && *n < kCanaryBuckets) {
      return *n;
    }
  }
  return kNoBucket;
}

}  // namespace

std::uint32_t canary_bucket(const MessageHead& request) {
  for (const Header& h : request) {
    if (h.token == HeaderToken::cookie) {
      if (const std::uint32_t bucket = bucket_in(h.value); bucket != kNoBucket) {
        return bucket;
      }
    }
  }
  return kNoBucket;
}

std::string_view canary_set_cookie(std::uint32_t bucket, SetCookieBuffer& buffer) {
  const auto end = fmt::format_to_n(buffer.data(), buffer.size(),
                                    "{}={}; Path=/; HttpOnly; SameSite=Lax", kCanaryCookie, bucket);
  return {buffer.data(), end.size};
}

}  // namespace handoff::proxy
