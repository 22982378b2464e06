#include "proxy/http/http_head.hpp"

#include <cctype>
#include <charconv>
#include <cstring>

#include "proxy/http/head_scan.hpp"
#include "proxy/http/whole_number.hpp"

namespace handoff::proxy {
namespace {

// A character-class table: letters, digits and the characters in `extra`.
constexpr std::array<bool, 256> alnum_and(std::string_view extra) {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = true;
    t[c - 'a' + 'A'] = true;
  }
  for (char c : extra) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
constexpr auto kTchar = alnum_and("!#$%&'*+-.^_`|~");

bool is_token(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (unsigned char c : s) {
    if (!kTchar[c]) {
      return false;
    }
  }
  return true;
}

// RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ). CR, LF, NUL and the other
// controls are refused, which also rules out a bare CR.
bool is_field_value(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

ParseResult fail(int status, std::string_view why) {
  return ParseResult{ParseStatus::error, 0, status, why};
}

// Locates the empty line that ends the head. Returns its end offset, 0 while incomplete.
std::size_t find_head_end(std::string_view data) {
  std::size_t pos = data.find("\r\n\r\n");
  return pos == std::string_view::npos ? 0 : pos + 4;
}

// Whether an incomplete head already holds a line ended by a bare LF. Such a head can never
// become valid (RFC 9112 §2.2), so it is refused at once instead of at the header timeout.
bool has_bare_lf(std::string_view data) {
  for (std::size_t lf = data.find('\n'); lf != std::string_view::npos;
       lf = data.find('\n', lf + 1)) {
    if (lf == 0 || data[lf - 1] != '\r') {
      return true;
    }
  }
  return false;
}

// Splits off the next CRLF-terminated line. A bare LF or a CR inside the line is an error,
// because parsers disagree on them (RFC 9112 §2.2).
bool next_line(std::string_view& rest, std::string_view& line) {
  std::size_t lf = rest.find('\n');
  if (lf == std::string_view::npos || lf == 0 || rest[lf - 1] != '\r') {
    return false;
  }
  line = rest.substr(0, lf - 1);
  rest.remove_prefix(lf + 1);
  return line.find('\r') == std::string_view::npos;
}

// Hands out a head's lines (without their CRLF), the empty line last: from a scan that found
// them and checked their bytes already, or else one by one with every check.
class LineReader {
 public:
  LineReader(std::string_view head, const HeadScan* scan) : rest_(head), scan_(scan) {}

  /// The next line; false when its ending is malformed.
  bool next(std::string_view& line) {
    if (scan_ == nullptr) {
      return next_line(rest_, line);
    }
    const std::size_t start = index_ == 0 ? 0 : scan_->line_end[index_ - 1] + 2;
    const std::size_t end = index_ < scan_->lines ? scan_->line_end[index_] : start;
    line = rest_.substr(start, end - start);
    ++index_;
    return true;
  }

  /// Whether every byte was checked by the scan: only HTAB among the control bytes.
  [[nodiscard]] bool checked() const { return scan_ != nullptr; }

 private:
  std::string_view rest_;
  const HeadScan* scan_;
  std::size_t index_ = 0;
};

bool parse_version(std::string_view v, int& minor, bool& supported) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return false;
  }
  supported = v[5] == '1' && (v[7] == '0' || v[7] == '1');
  minor = v[7] - '0';
  return true;
}

// Parses a Content-Length value, which may be a list of identical values (RFC 9110 §8.6).
bool parse_content_length(std::string_view value, bool& seen, std::uint64_t& length) {
  bool ok = true;
  bool any = false;
  for_each_list_element(value, [&](std::string_view item) {
    any = true;
    const std::optional<std::uint64_t> parsed = parse_whole_number<std::uint64_t>(item);
    if (!parsed) {
      ok = false;
      return;
    }
    const std::uint64_t n = *parsed;
    if (seen && n != length) {
      ok = false;
      return;
    }
    seen = true;
    length = n;
  });
  return ok && any;
}

void note_connection_options(std::string_view value, MessageHead& head) {
  for_each_list_element(value, [&](std::string_view opt) {
    if (iequals(opt, "close")) {
      head.connection_close = true;
    } else if (iequals(opt, "keep-alive")) {
      head.connection_keep_alive = true;
    } else if (iequals(opt, "upgrade")) {
      head.connection_upgrade = true;
    }
  });
}

struct FramingFields {
  bool content_length_seen = false;
  bool transfer_encoding_seen = false;
  bool chunked_final = false;
  bool only_chunked = true;  // every coding listed is "chunked" and it appears once
  int chunked_count = 0;
  bool host_seen = false;
};

// The field-line check, inlined into the head parser (it runs for every field of every head);
// parse_field_line is its out-of-line form for trailers.
// `checked`: the scan found no control byte but HTAB in the line, so the value needs no look.
[[gnu::always_inline]] inline std::string_view check_field_line(std::string_view line,
                                                                Header& field, bool checked) {
  if (line.front() == ' ' || line.front() == '\t') {
    return "obsolete line folding";  // RFC 9112 §5.2
  }
  // The name is the run of token characters at the start, and a colon must end it: one pass
  // finds the colon and checks the name.
  std::size_t colon = 0;
  while (colon < line.size() && kTchar[static_cast<unsigned char>(line[colon])]) {
    ++colon;
  }
  if (colon == 0 || colon == line.size() || line[colon] != ':') {
    // Also catches whitespace between the name and the colon (RFC 9112 §5.1).
    return line.find(':') == std::string_view::npos ? "header line without a colon"
                                                    : "invalid header name";
  }
  field.name = line.substr(0, colon);
  field.value = trim_ows(line.substr(colon + 1));
  if (!checked && !is_field_value(field.value)) {
    return "invalid character in header value";
  }
  return {};
}

// Takes note of a field the relay acts on (Host, Expect, Upgrade, Connection, Content-Length,
// Transfer-Encoding); returns why the field makes the message invalid, or "".
inline std::string_view note_field(const Header& field, bool is_request, MessageHead& head,
                                   FramingFields& f) {
  const std::string_view value = field.value;
  switch (field.token) {
    case HeaderToken::host:
      if (!is_request) {
        break;
      }
      if (f.host_seen) {
        return "more than one Host field";  // RFC 9112 §3.2
      }
      if (!valid_host(value)) {
        return "invalid Host field";
      }
      f.host_seen = true;
      head.host = value;
      break;
    case HeaderToken::expect:
      head.expect_continue = head.expect_continue || iequals(value, "100-continue");
      break;
    case HeaderToken::upgrade:
      for_each_list_element(value, [&](std::string_view protocol) {
        head.websocket_upgrade = head.websocket_upgrade || iequals(protocol, "websocket");
      });
      break;
    case HeaderToken::connection:
      note_connection_options(value, head);
      break;
    case HeaderToken::content_length:
      if (!parse_content_length(value, f.content_length_seen, head.content_length)) {
        return "invalid or conflicting Content-Length";
      }
      break;
    case HeaderToken::transfer_encoding:
      f.transfer_encoding_seen = true;
      for_each_list_element(value, [&](std::string_view coding) {
        const bool chunked = iequals(coding, "chunked");
        f.chunked_count += chunked ? 1 : 0;
        f.only_chunked = f.only_chunked && chunked;
        f.chunked_final = chunked;
      });
      break;
    default:
      break;
  }
  return {};
}

// Parses the field lines after the start line and classifies the ones the relay acts on.
ParseResult parse_fields(LineReader& lines, bool is_request, MessageHead& head, FramingFields& f) {
  const int bad = is_request ? 400 : 502;
  head.header_count = 0;
  std::string_view line;
  while (true) {
    if (!lines.next(line)) {
      return fail(bad, "malformed header line ending");
    }
    if (line.empty()) {
      head.fields_end = line.data();
      break;
    }
    Header field;
    if (std::string_view why = check_field_line(line, field, lines.checked()); !why.empty()) {
      return fail(bad, why);
    }
    if (head.header_count == kMaxHeaders) {
      return fail(is_request ? 431 : 502, "too many header fields");
    }
    field.token = header_token(field.name);
    head.headers[head.header_count++] = field;
    if (std::string_view why = note_field(field, is_request, head, f); !why.empty()) {
      return fail(bad, why);
    }
  }
  if (f.transfer_encoding_seen && f.content_length_seen) {
    // RFC 9112 §6.1: a message with both is a smuggling vector; refuse it outright.
    return fail(bad, "both Content-Length and Transfer-Encoding");
  }
  if (f.chunked_count > 1) {
    return fail(bad, "chunked applied more than once");
  }
  return ParseResult{ParseStatus::complete, 0, 0, {}};
}

bool valid_request_target(std::string_view method, std::string_view target) {
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) {
      return false;
    }
  }
  if (target.front() == '/') {
    return true;  // origin-form
  }
  if (target == "*") {
    return method == "OPTIONS";  // asterisk-form
  }
  // absolute-form (RFC 9112 §3.2.2)
  return (target.size() > 7 && iequals(target.substr(0, 7), "http://")) ||
         (target.size() > 8 && iequals(target.substr(0, 8), "https://"));
}

// Splits an absolute-form target into its authority and the origin-form rest (path and query,
// possibly empty). False when the authority is not a valid host or carries userinfo.
bool split_absolute_target(std::string_view target, std::string_view& authority,
                           std::string_view& rest) {
  const std::size_t start = target.find("://") + 3;
  const std::size_t end = target.find_first_of("/?#", start);
  authority = target.substr(start, end == std::string_view::npos ? end : end - start);
  rest = end == std::string_view::npos ? std::string_view{} : target.substr(end);
  // RFC 9110 §4.2.4: userinfo is deprecated in http(s) URIs; an empty host is invalid there.
  return !authority.empty() && authority.front() != ':' && valid_host(authority);
}

// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ). The comma, a
// sub-delim, is left out: in a Host field it can only come from two values joined as a list.
constexpr auto kRegName = alnum_and("-._~%!$&'()*+;=");

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return port.empty();  // RFC 3986 §3.2.3: port = *DIGIT, so "host:" is allowed
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// Where a head ends in `data`: from the scan when it vouches for the head, else (the scan
// stopped at something irregular) by the line-by-line search. `end` is 0 while incomplete;
// `bare_lf` says an incomplete head can never become valid (RFC 9112 §2.2), so it is refused
// at once instead of at the header timeout.
struct HeadBounds {
  std::size_t end = 0;
  bool bare_lf = false;
};

HeadBounds locate_head(std::string_view data, const HeadScan& scan) {
  switch (scan.state) {
    case HeadScan::State::complete:
      return {scan.end, false};
    case HeadScan::State::incomplete:
      return {};
    case HeadScan::State::irregular:
      break;
  }
  const std::size_t end = find_head_end(data);
  return {end, end == 0 && has_bare_lf(data)};
}

// Splits and checks the request line into `head` (method, target, version): complete when it
// is valid, else the error to answer with.
ParseResult parse_request_line(std::string_view line, MessageHead& head) {
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  bool supported = false;
  if (!is_token(head.method) || head.target.empty() ||
      !parse_version(line.substr(sp2 + 1), head.version_minor, supported)) {
    return fail(400, "malformed request line");
  }
  if (!supported) {
    return fail(505, "HTTP version not supported");
  }
  if (head.method == "CONNECT") {
    return fail(405, "CONNECT is not supported");
  }
  if (!valid_request_target(head.method, head.target)) {
    return fail(400, "invalid request target");
  }
  return ParseResult{ParseStatus::complete, 0, 0, {}};
}

// Whether the unfinished last line of an incomplete head can still become valid: a control byte
// (but a CR that may yet meet its LF) can never, nor a byte no method or field name may hold
// before the method's space or the name's colon, nor a field line that starts folded.
bool partial_line_can_grow(std::string_view line, bool request_line) {
  if (!request_line && !line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    return false;  // obsolete line folding (RFC 9112 §5.2)
  }
  bool in_name = true;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == '\r' && i + 1 == line.size()) {
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
    if (in_name && c == (request_line ? ' ' : ':')) {
      in_name = false;
    } else if (in_name && !kTchar[c]) {
      return false;
    }
  }
  return true;
}

// Why an incomplete request head can never become valid, or success while it still can: each
// line ended so far must be a valid request line or field line (RFC 9112 §2.2, §3, §5), and the
// unfinished one a possible start of one. nginx and HAProxy answer such bytes at once; waiting
// for the header timeout would hold the connection for nothing.
ParseResult refuse_early(std::string_view data, MessageHead& scratch) {
  std::size_t start = 0;
  for (std::size_t line_number = 0; start < data.size(); ++line_number) {
    const std::size_t lf = data.find('\n', start);
    if (lf == std::string_view::npos) {
      return partial_line_can_grow(data.substr(start), line_number == 0)
                 ? ParseResult{}
                 : fail(400, "malformed request head");
    }
    if (lf == start || data[lf - 1] != '\r') {
      return fail(400, "malformed header line ending");
    }
    const std::string_view line = data.substr(start, lf - 1 - start);
    start = lf + 1;
    if (line_number == 0) {
      if (ParseResult r = parse_request_line(line, scratch); r.state == ParseStatus::error) {
        return r;
      }
      continue;
    }
    if (line_number > kMaxHeaders) {
      return fail(431, "too many header fields");
    }
    Header field;
    if (std::string_view why = check_field_line(line, field, false); !why.empty()) {
      return fail(400, why);
    }
  }
  return {};
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && (x | 0x20) != (y | 0x20)) {
      return false;
    }
    if (x != y && ((x | 0x20) < 'a' || (x | 0x20) > 'z')) {
      return false;
    }
  }
  return true;
}

bool is_token_char(unsigned char c) {
  return kTchar[c];
}

std::string_view parse_field_line(std::string_view line, Header& field) {
  return check_field_line(line, field, false);
}

bool valid_host(std::string_view host) {
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    // IP-literal: hex digits, colons and dots (IPv6 and its embedded IPv4 form).
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) {
      return false;
    }
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return false;
      }
    }
    port = host.substr(close + 1);
    return port.empty() || (port.front() == ':' && valid_port(port.substr(1)));
  }
  const std::size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (!valid_port(port)) {
      return false;
    }
  }
  for (unsigned char c : host) {
    if (!kRegName[c]) {
      return false;
    }
  }
  return true;
}

ParseResult parse_request_head(std::string_view data, std::size_t max_bytes, MessageHead& head) {
  // RFC 9112 §2.2: ignore empty lines received before the request line.
  std::size_t skipped = 0;
  while (data.size() - skipped >= 2 && data[skipped] == '\r' && data[skipped + 1] == '\n') {
    skipped += 2;
  }
  std::string_view msg = data.substr(skipped);
  const HeadScan scan = scan_head(msg);
  const HeadBounds bounds = locate_head(msg, scan);
  const std::size_t end = bounds.end;
  if (end == 0) {
    if (ParseResult early = refuse_early(msg, head); early.state == ParseStatus::error) {
      return early;
    }
    if (msg.size() >= max_bytes) {
      return fail(431, "request header section too large");
    }
    return {};
  }
  if (end > max_bytes) {
    return fail(431, "request header section too large");
  }
  head.clear();
  LineReader lines(msg.substr(0, end), scan.state == HeadScan::State::complete ? &scan : nullptr);
  std::string_view line;
  if (!lines.next(line)) {
    return fail(400, "malformed request line");
  }
  if (ParseResult start = parse_request_line(line, head); start.state == ParseStatus::error) {
    return start;
  }
  std::string_view authority;
  const bool absolute = head.target.front() != '/' && head.target != "*";
  if (absolute && !split_absolute_target(head.target, authority, head.target)) {
    return fail(400, "invalid authority in the request target");
  }
  FramingFields f;
  ParseResult fields = parse_fields(lines, true, head, f);
  if (fields.state == ParseStatus::error) {
    return fields;
  }
  if (head.version_minor == 1 && !f.host_seen) {
    return fail(400, "missing Host field");
  }
  if (absolute) {
    // RFC 9112 §3.2.2: the target's authority replaces Host, which is then ignored; the
    // request is forwarded in origin-form with that authority as its Host.
    head.host = authority;
  }
  if (f.transfer_encoding_seen) {
    if (head.version_minor == 0) {
      return fail(400, "Transfer-Encoding in an HTTP/1.0 request");  // RFC 9112 §6.1
    }
    if (!f.chunked_final) {
      return fail(400, "Transfer-Encoding does not end in chunked");
    }
    if (!f.only_chunked) {
      return fail(501, "unsupported transfer coding");
    }
    head.body = BodyKind::chunked;
  } else if (head.content_length > 0) {
    head.body = BodyKind::length;
  }
  return ParseResult{ParseStatus::complete, skipped + end, 0, {}};
}

ParseResult parse_response_head(std::string_view data, std::size_t max_bytes,
                                std::string_view request_method, MessageHead& head) {
  const HeadScan scan = scan_head(data);
  const HeadBounds bounds = locate_head(data, scan);
  const std::size_t end = bounds.end;
  if (end == 0) {
    if (bounds.bare_lf) {
      return fail(502, "malformed header line ending");
    }
    if (data.size() >= max_bytes) {
      return fail(502, "response header section too large");
    }
    return {};
  }
  if (end > max_bytes) {
    return fail(502, "response header section too large");
  }
  head.clear();
  LineReader lines(data.substr(0, end), scan.state == HeadScan::State::complete ? &scan : nullptr);
  std::string_view line;
  if (!lines.next(line) || line.size() < 12 || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return fail(502, "malformed status line");
  }
  bool supported = false;
  if (!parse_version(line.substr(0, 8), head.version_minor, supported) || !supported) {
    return fail(502, "malformed status line");
  }
  auto [ptr, ec] = std::from_chars(line.data() + 9, line.data() + 12, head.status);
  if (ec != std::errc() || ptr != line.data() + 12 || head.status < 100 || head.status > 599) {
    return fail(502, "malformed status line");
  }
  head.reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  if (!lines.checked() && !is_field_value(head.reason)) {
    return fail(502, "malformed status line");
  }
  FramingFields f;
  ParseResult fields = parse_fields(lines, false, head, f);
  if (fields.state == ParseStatus::error) {
    return fields;
  }
  if (head.version_minor == 0 && !head.connection_keep_alive) {
    head.connection_close = true;
  }
  // RFC 9112 §6.3: the order of these rules decides the body length.
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    head.body = BodyKind::none;
  } else if (f.transfer_encoding_seen) {
    head.body = f.chunked_final ? BodyKind::chunked : BodyKind::until_close;
  } else if (f.content_length_seen) {
    head.body = head.content_length > 0 ? BodyKind::length : BodyKind::none;
  } else {
    head.body = BodyKind::until_close;
  }
  return ParseResult{ParseStatus::complete, end, 0, {}};
}

}  // namespace handoff::proxy
