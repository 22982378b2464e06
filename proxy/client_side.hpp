#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/buffer.hpp"
#include "proxy/http/chunked_scanner.hpp"
#include "proxy/http/http_head.hpp"

namespace handoff::proxy {

class Upstream;

/// How a request ended, for the client connection that carried it.
enum class Outcome : std::uint8_t { keep_alive, close };

/// Request body bytes ready to go upstream, already framed for HTTP/1.1.
struct BodyPiece {
  std::string_view bytes;    ///< what to send upstream
  std::size_t consumed = 0;  ///< the client-side bytes they stand for (see `body_sent`)
  bool last = false;         ///< they end the body
};

/// The next body bytes, or how the request ended on the client side instead.
struct BodyRead {
  bool ok = false;  ///< `piece` is valid; otherwise the client side ended the request
  BodyPiece piece;  ///< when `ok`
  Outcome ended = Outcome::close;  ///< when not `ok`: the client left, or was answered already
};

/// One request's client side as the upstream exchange sees it, whatever protocol the client
/// speaks: where the request body comes from and where the response goes. The exchange
/// (`UpstreamExchange`) owns everything about the upstream — its connection, retries, framing
/// and timeouts — and the client side owns everything about the client — its framing, its
/// connection's fate and the request's books. `RequestFront` implements what every protocol
/// does alike (the member, the books); HTTP/1.1 (`ClientSession`) and HTTP/2 (`H2Stream`) the
/// rest. Another protocol adds another client side, and the exchange stays as it is.
class ClientSide {
 public:
  ClientSide() = default;
  ClientSide(const ClientSide&) = delete;
  ClientSide& operator=(const ClientSide&) = delete;

  // --- the request body ---

  /// The body bytes at hand when the exchange starts (possibly none). They stay available, so
  /// that a retry on a fresh upstream connection sends them again, until `body_sent` is called
  /// with them.
  virtual BodyPiece first_body() = 0;
  /// Reads the next body bytes from the client.
  virtual boost::asio::awaitable<BodyRead> next_body() = 0;
  /// `piece` went upstream for good: the client side may drop (or acknowledge) its bytes.
  virtual void body_sent(const BodyPiece& piece) = 0;

  // --- the response ---

  /// Passes an interim (1xx) response on; false when the client is gone.
  virtual boost::asio::awaitable<bool> send_interim(const MessageHead& response) = 0;
  /// Prepares to send the final response `response`; says how its chunked body, if any, is to
  /// be framed for this client.
  virtual ChunkedOutput begin_response(const MessageHead& response) = 0;
  /// Sends response body bytes (the head goes with the first call); false when the client is
  /// gone.
  virtual boost::asio::awaitable<bool> send_body(std::string_view bytes) = 0;
  /// The client's TCP socket when response body bytes may go to it straight from the
  /// upstream's, by splice(2) rather than through `send_body`: a plain (not TLS) HTTP/1.1
  /// client, once the head was sent. Null when they may not.
  virtual boost::asio::ip::tcp::socket* splice_target() = 0;
  /// `n` response body bytes went to the client by splice (for the books).
  virtual void spliced(std::size_t n) = 0;
  /// The response's body ended with trailer fields ("name: value\r\n" lines) that the
  /// client's framing carries apart from the body (HTTP/2). Called before `end_response`;
  /// HTTP/1.1 relays trailers in the chunked framing itself and ignores this.
  virtual void response_trailers(std::string_view /*fields*/) {}
  /// The response was sent whole: how the client connection goes on.
  virtual Outcome end_response() = 0;
  /// Answers with the proxy's own short response instead of the upstream's (502, 504…).
  /// `close`: the client connection cannot be reused (part of its request is unread).
  virtual boost::asio::awaitable<Outcome> reply(int status, std::string_view text, bool close) = 0;
  /// Answers 503 with `Retry-After: 1`: the member has no connection to spare for now.
  virtual boost::asio::awaitable<Outcome> reply_busy(std::string_view text, bool close) = 0;
  /// The upstream agreed to switch protocols (101): relays the response head, then both
  /// directions byte for byte until either side ends. `upstream_bytes` holds what the upstream
  /// sent after the head. The client connection ends with the tunnel.
  virtual boost::asio::awaitable<Outcome> switch_protocols(const MessageHead& response,
                                                           boost::asio::ip::tcp::socket& upstream,
                                                           Buffer& upstream_bytes) = 0;

  // --- the upstream ---

  /// The request's member of its service's upstream set failed before it took any of the
  /// request (a connect error, or a reset before any response byte of a replayable request):
  /// binds the request to another member, counted in flight there instead. Null when there is
  /// no other member; the request stays where it was.
  virtual Upstream* rebind() = 0;

  // --- what happened, for the books ---

  /// No connection to the upstream could be made.
  virtual void connect_failed() = 0;
  /// The response was cut short after it began, for `why` (a string literal).
  virtual void cut(std::string_view why) = 0;
  /// Whether the client wants its connection kept after this request.
  [[nodiscard]] virtual bool persistent() const = 0;

 protected:
  ~ClientSide() = default;
};

}  // namespace handoff::proxy
