#include "proxy/request_ids.hpp"

namespace handoff::proxy {

RequestIds::RequestIds(std::uint64_t prefix) {
  for (int i = 15; i >= 0; --i) {
    digits_[i] = "0123456789abcdef"[prefix & 0xf];
    prefix >>= 4;
  }
  for (int i = 16; i < 32; ++i) {
    digits_[i] = '0';
  }
}

std::string_view RequestIds::next() {
  for (int i = 31; i >= 16; --i) {
    if (digits_[i] != 'f') {
      digits_[i] = digits_[i] == '9' ? 'a' : static_cast<char>(digits_[i] + 1);
      break;
    }
    digits_[i] = '0';  // and carry into the next digit
  }
  return std::string_view(digits_, sizeof digits_);
}

}  // namespace handoff::proxy
