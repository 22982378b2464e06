#include "proxy/http/head_scan.hpp"

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace handoff::proxy {
namespace {

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// The scan's progress; `at` is called for each control byte in order, and says how the
// scan goes on.
class Scanner {
 public:
  Scanner(std::string_view data, HeadScan& scan) : data_(data), scan_(scan) {}

  /// What the scan does after a control byte.
  enum class Next : std::uint8_t { go_on, skip_lf, stop };

  /// Takes the control byte at `i`; `skip_lf`: it was a CR whose LF follows at `i + 1`, already
  /// accounted for.
  Next at(std::size_t i) {
    const char c = data_[i];
    if (c == '\t' || (c == '\n' && i == paired_lf_)) {
      return Next::go_on;
    }
    if (c != '\r') {
      return stop(HeadScan::State::irregular);  // a bare LF, or another control byte
    }
    if (i + 1 == data_.size()) {
      return stop(HeadScan::State::incomplete);
    }
    if (data_[i + 1] != '\n') {
      return stop(HeadScan::State::irregular);
    }
    paired_lf_ = i + 1;
    if (i == line_start_) {  // the empty line
      if (scan_.lines == 0) {
        return stop(HeadScan::State::irregular);
      }
      scan_.end = i + 2;
      return stop(HeadScan::State::complete);
    }
    if (scan_.lines == HeadScan::kMaxLines) {
      return stop(HeadScan::State::irregular);
    }
    scan_.line_end[scan_.lines++] = static_cast<std::uint32_t>(i);
    line_start_ = i + 2;
    return Next::skip_lf;
  }

 private:
  Next stop(HeadScan::State state) {
    scan_.state = state;
    return Next::stop;
  }

  std::string_view data_;
  HeadScan& scan_;
  std::size_t line_start_ = 0;
  std::size_t paired_lf_ = static_cast<std::size_t>(-1);
};

#if defined(__SSE2__)
// A bit for each of the sixteen bytes at `p` that is a control byte (below 0x20, or DEL).
unsigned control_mask(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i below_space = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1f)), bytes);
  const __m128i del = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(0x7f));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(below_space, del)));
}
#endif

}  // namespace

HeadScan scan_head(std::string_view data) {
  HeadScan scan;
  Scanner scanner(data, scan);
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= data.size(); i += 16) {
    for (unsigned mask = control_mask(data.data() + i); mask != 0;) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      mask &= mask - 1;
      const Scanner::Next next = scanner.at(i + bit);
      if (next == Scanner::Next::stop) {
        return scan;
      }
      if (next == Scanner::Next::skip_lf) {
        mask &= ~(2U << bit);  // the CR's LF, when it is in this block
      }
    }
  }
#endif
  for (; i < data.size(); ++i) {
    if (is_control(static_cast<unsigned char>(data[i])) && scanner.at(i) == Scanner::Next::stop) {
      return scan;
    }
  }
  return scan;  // clean so far, and not ended: incomplete
}

}  // namespace handoff::proxy
