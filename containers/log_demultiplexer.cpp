#include "containers/log_demultiplexer.hpp"

#include <algorithm>

namespace handoff::containers {

namespace {

constexpr std::size_t kHeaderBytes = 8;

// Whether a frame header can start like this (stream 0-2, then three zero bytes).
bool looks_framed(std::string_view start) {
  for (std::size_t i = 0; i < std::min<std::size_t>(start.size(), 4); ++i) {
    const auto c = static_cast<unsigned char>(start[i]);
    if (i == 0 ? c > 2 : c != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string LogDemultiplexer::feed(std::string_view bytes) {
  std::string out;
  while (!bytes.empty()) {
    if (kind_ == Kind::plain) {
      out.append(bytes);
      break;
    }
    if (remaining_ > 0) {
      const std::size_t n = std::min(remaining_, bytes.size());
      out.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      remaining_ -= n;
      continue;
    }
    const std::size_t n = std::min(kHeaderBytes - header_.size(), bytes.size());
    header_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (kind_ == Kind::unknown && !looks_framed(header_)) {
      kind_ = Kind::plain;
      out.append(header_);
      header_.clear();
      continue;
    }
    if (header_.size() < kHeaderBytes) {
      continue;  // the rest of the header comes with the next bytes
    }
    kind_ = Kind::framed;
    const auto* h = reinterpret_cast<const unsigned char*>(header_.data());
    remaining_ = (std::size_t{h[4]} << 24) | (std::size_t{h[5]} << 16) | (std::size_t{h[6]} << 8) |
                 std::size_t{h[7]};
    header_.clear();
  }
  return out;
}

std::string LogDemultiplexer::finish() {
  std::string out = kind_ == Kind::unknown ? header_ : std::string();
  header_.clear();
  return out;
}

std::string demultiplex_logs(std::string_view raw) {
  LogDemultiplexer d;
  std::string out = d.feed(raw);
  out += d.finish();
  return out;
}

}  // namespace handoff::containers
