#include "proxy/http/body_framer.hpp"

#include <algorithm>

namespace handoff::proxy {

BodyFramer::Step BodyFramer::feed(std::string_view input) {
  switch (kind_) {
    case BodyKind::none:
      return {};
    case BodyKind::length: {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(input.size(), remaining_));
      remaining_ -= take;
      taken_ += take;
      return {take, input.substr(0, take)};
    }
    case BodyKind::chunked: {
      out_.clear();
      const std::size_t take = chunks_.feed(input, out_);
      return {take, out_};
    }
    case BodyKind::until_close:
      taken_ += input.size();
      return {input.size(), input};
  }
  return {};
}

bool BodyFramer::done() const {
  switch (kind_) {
    case BodyKind::none:
      return true;
    case BodyKind::length:
      return remaining_ == 0;
    case BodyKind::chunked:
      return chunks_.done();
    case BodyKind::until_close:
      return false;
  }
  return false;
}

std::uint64_t BodyFramer::data_bytes() const {
  return kind_ == BodyKind::chunked ? chunks_.data_bytes() : taken_;
}

}  // namespace handoff::proxy
