#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::proxy {

/// Header fields as HTTP/2 carries them (names in lower case), kept in one block of text so
/// that building a HEADERS frame's list allocates nothing once the block has grown.
class FieldBlock {
 public:
  /// Forgets every field, keeping the memory.
  void clear() {
    text_.clear();
    fields_.clear();
  }
  /// Adds a field; `name` is lower-cased.
  void add(std::string_view name, std::string_view value) {
    const auto at = static_cast<std::uint32_t>(text_.size());
    for (const char c : name) {
      text_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    text_.append(value);
    fields_.push_back(
        {at, static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(value.size())});
  }
  /// How many fields there are.
  [[nodiscard]] std::size_t size() const { return fields_.size(); }
  /// Field `i`'s name.
  [[nodiscard]] std::string_view name(std::size_t i) const {
    return std::string_view(text_).substr(fields_[i][0], fields_[i][1]);
  }
  /// Field `i`'s value.
  [[nodiscard]] std::string_view value(std::size_t i) const {
    return std::string_view(text_).substr(fields_[i][0] + fields_[i][1], fields_[i][2]);
  }

 private:
  std::string text_;
  std::vector<std::array<std::uint32_t, 3>>
      fields_;  // where the name starts, its and the value's length
};

}  // namespace handoff::proxy
