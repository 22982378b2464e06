#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/buffer.hpp"
#include "proxy/client_side.hpp"
#include "proxy/http/http_head.hpp"
#include "proxy/routing/canary.hpp"
#include "proxy/upstream/upstream.hpp"

namespace handoff::proxy {

class Service;
class Upstream;
class Worker;
struct SessionHandle;

/// Why a request is answered without being forwarded.
struct Refusal {
  int status;
  std::string text;
};

/// What the access log names a request by: views the client side keeps valid until the request
/// is on the books.
struct RequestLine {
  std::string_view method;
  std::string_view target;  ///< as the client sent it (before a prefix is stripped)
  std::string_view host;
};

/// Where an exchange keeps its working state: the client side's (reused) storage.
struct ExchangeSpace {
  std::string& upstream_head;  ///< the request head as forwarded
  std::string& request_id;     ///< for the access log
  MessageHead& response;       ///< the upstream's response head
  Buffer& upstream_bytes;      ///< bytes from the upstream
};

/// The front half of every request, whatever protocol carries it. Once a client side has read
/// and checked a request's head, `serve` does the rest alike for HTTP/1.1 and HTTP/2: refuses a
/// body announced over --max-body, answers an ACME challenge, routes by Host and path, redirects
/// to HTTPS, holds the request while its service is paused, picks a member of the serving set
/// (or the canary's) and runs the exchange with it. It owns the request's books — its service,
/// its member and in-flight slot, its status, bytes and timing — and puts the request on them
/// exactly once (`finish`): counted on the service, on the member only when the member took
/// part, and in the access log. A per-service policy plugs in here, once for both protocols.
///
/// Each protocol is a thin client side over it: it reads heads and bodies and writes answers in
/// its own framing (`answer_unread`, `take_first_body` and the `ClientSide` response calls).
class RequestFront : public ClientSide {
 public:
  RequestFront(const RequestFront&) = delete;
  RequestFront& operator=(const RequestFront&) = delete;

  // ClientSide: what every protocol does alike.
  Upstream* rebind() final;
  void connect_failed() final;
  void cut(std::string_view why) final { cut_ = why; }

 protected:
  /// `handle` is the request's watch (deadlines, drain, shutdown); `secure`: the client came
  /// over TLS. The client side sets `client_ip_` before the first request.
  RequestFront(Worker& worker, SessionHandle& handle, bool secure);
  ~RequestFront();

  /// A request head arrived (whole or not): from now on the request goes on the books.
  void open_books();
  /// Serves a request whose head was read and found well-formed, to its end; `request` is the
  /// parsed head (its target loses a stripped prefix). Returns how the client connection goes
  /// on.
  boost::asio::awaitable<Outcome> serve(MessageHead& request, ExchangeSpace space);
  /// Puts the request on the books: counts it and writes its access log line; `error` says why
  /// the proxy refused or ended it. Once per request: later calls do nothing.
  void finish(std::string_view error);
  /// Puts a request that is still open on the books: answered (its cut, if any, as the error),
  /// or ended without an answer (the client left, or a drain or shutdown closed it).
  void settle();
  /// Forgets the last request's books (a connection's next request starts clean).
  void clear_books();

  // --- what the protocol does in its own framing ---

  /// Answers the request before any of its body was read or forwarded (a refusal, a redirect,
  /// an ACME answer); `logged_as_error`: `text` goes to the access log as the error.
  virtual boost::asio::awaitable<Outcome> answer_unread(int status, std::string_view text,
                                                        std::string_view extra_field,
                                                        bool logged_as_error) = 0;
  /// The head was built for the upstream: takes the body bytes at hand as the exchange's first
  /// (`first_body`). A refusal when they already make the body unacceptable.
  virtual std::optional<Refusal> take_first_body() = 0;

  // --- for the protocol's response heads ---

  /// The Strict-Transport-Security line for a response over TLS from a service that sets it;
  /// empty otherwise (RFC 6797 §7.2: never over plain HTTP).
  [[nodiscard]] std::string_view hsts_field();
  /// The canary cookie the response carries, when the request was placed by a new draw.
  [[nodiscard]] std::string_view canary_cookie() { return set_cookie_for(placement_, set_cookie_); }
  /// Whether the request is open (on the way to the books).
  [[nodiscard]] bool books_open() const { return open_; }

  Worker& worker_;
  SessionHandle& watch_;        // the request's: deadlines, drain and shutdown
  std::string_view client_ip_;  // for X-Forwarded-For and the log; owned by the client side
  // The books, written by the client side as the response goes out.
  RequestLine line_;  // set by the client side once it knows the head
  int status_ = 0;    // the status answered; 0: none yet
  std::uint64_t response_bytes_ = 0;
  std::string_view cut_;            // why the response was cut short (a literal), once it was
  bool answered_by_proxy_ = false;  // the status is handoff's own answer, not the upstream's
  bool client_left_ = false;        // the client ended the request first (an HTTP/2 reset)

 private:
  // Gives the in-flight slot back when an exchange ends.
  struct SlotRelease {
    RequestFront& front;
    ~SlotRelease();
  };

  /// What `admit` decided.
  enum class Admission : std::uint8_t {
    admitted,
    body_over_limit,
    acme_challenge,
    unrouted,
    to_https
  };
  Admission admit(MessageHead& request);
  boost::asio::awaitable<Outcome> answer_refusal(Admission admission, const MessageHead& request);
  boost::asio::awaitable<Outcome> redirect_to_https(const MessageHead& request);
  boost::asio::awaitable<Outcome> refuse_paused();
  [[nodiscard]] std::optional<std::string> acme_answer(const MessageHead& request) const;
  [[nodiscard]] bool body_announced_over_limit(const MessageHead& request) const;

  const bool secure_;
  // Owned for the request's lifetime: a control operation may replace the route table (and
  // drop the service from it) while the request is suspended.
  std::shared_ptr<Service> service_;
  // The request's in-flight slot on its member, held from the pick to the end of the exchange
  // (a retry moves it to another member).
  InFlight flight_;
  // The member on the request's books: the slot's, from the exchange on. Null before: a request
  // answered before its exchange is not the member's.
  Upstream* upstream_ = nullptr;
  std::string_view request_id_;
  std::chrono::steady_clock::time_point started_;
  bool open_ = false;
  bool connect_failed_ = false;
  Placement placement_;           // the request's side of a canary split
  SetCookieBuffer set_cookie_{};  // the canary cookie the response carries, when it does
  std::array<char, 64> hsts_{};
};

}  // namespace handoff::proxy
