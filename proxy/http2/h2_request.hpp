#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace handoff::proxy {

/// What an HTTP/2 request's header section turned out to be.
struct H2RequestVerdict {
  /// 0: the head is ready. Otherwise the request is refused: -1 as malformed (a stream error
  /// of type PROTOCOL_ERROR, RFC 9113 §8.1.1), or the HTTP status to answer it with.
  int refusal = 0;
  std::string_view why;  ///< why it was refused (a literal)
};

/// Gathers an HTTP/2 request's fields as HPACK decodes them and writes the HTTP/1.1 request
/// head that stands for them upstream (RFC 9113 §8.2–8.3): `:authority` becomes Host, cookie
/// crumbs are joined with "; ", a body without content-length is sent chunked. The head is
/// then parsed like any HTTP/1.1 head, so one parser decides what is forwarded.
class H2RequestHead {
 public:
  /// A head of at most `max_bytes` (names and values, plus 32 per field as RFC 9113 §6.5.2
  /// counts them) and at most `kMaxHeaders` fields; beyond either, the request is refused
  /// with 431 and nothing more of it is kept (an HPACK bomb decodes to little here).
  explicit H2RequestHead(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  /// Forgets a previous request, keeping the memory.
  void clear();
  /// Forgets a previous request and takes a new limit.
  void reset(std::size_t max_bytes) {
    clear();
    max_bytes_ = max_bytes;
  }
  /// Adds one field. False when it makes the request malformed (see `verdict`).
  bool add(std::string_view name, std::string_view value);
  /// Ends the header section; `has_body`: DATA may follow. Writes the head into `head` when
  /// the verdict is to go on.
  H2RequestVerdict finish(bool has_body, std::string& head);
  /// Why the fields seen so far refuse the request, if they do.
  [[nodiscard]] H2RequestVerdict verdict() const { return verdict_; }
  /// Adds a trailer field (a HEADERS frame after DATA) for a chunked body. False when it may
  /// not be a trailer (a pseudo-header or a field that frames or routes the message).
  bool add_trailer(std::string_view name, std::string_view value);
  /// The trailer section as chunked framing ends a body with it: "0", the fields, an empty line.
  [[nodiscard]] std::string last_chunk() const;

 private:
  bool pseudo(std::string_view name, std::string_view value);
  bool regular(std::string_view name, std::string_view value);
  bool refuse(int status, std::string_view why) {
    if (verdict_.refusal == 0) {
      verdict_ = {status, why};
    }
    return false;
  }

  std::string method_, scheme_, authority_, path_, host_;
  std::string fields_;  // "Name: value\r\n" lines of the regular fields
  std::string cookie_;  // the crumbs, joined
  std::string trailers_;
  bool regular_seen_ = false;  // a regular field came: no pseudo-header may follow
  bool has_length_ = false;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;  // names and values, plus 32 per field (RFC 9113 §6.5.2)
  std::size_t fields_count_ = 0;
  H2RequestVerdict verdict_;
};

}  // namespace handoff::proxy
