#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/buffer.hpp"
#include "proxy/client_side.hpp"
#include "proxy/http/http_head.hpp"
#include "proxy/upstream/connection_cap.hpp"

namespace handoff::proxy {

class Upstream;
class Worker;
struct SessionHandle;

/// One request's exchange with its upstream over HTTP/1.1, in named steps: take a pooled
/// connection or connect (`send_request`), send the head and the body (`send_body`), read the
/// response head passing 1xx on (`read_response_head`), relay the response
/// (`deliver_response`, `relay_response`) or hand over to a tunnel after a 101. A stale pooled
/// connection is retried on a fresh one while nothing of the request can have run.
///
/// The boundary is protocol-neutral: a request head plus a `ClientSide` body source in, a
/// response head plus the same `ClientSide` as the sink out. Bytes the upstream sends beyond
/// one response are never passed on, and its connection is then not reused.
class UpstreamExchange {
 public:
  /// An exchange for `request` (only its flags are kept), whose head as forwarded upstream is
  /// `upstream_head`. `response`
  /// receives the parsed response head; `upstream_bytes` is the read buffer (empty when the
  /// exchange ends). `handle` is the request's watch: deadlines, drain and shutdown.
  UpstreamExchange(Worker& worker, SessionHandle& handle, ClientSide& client,
                   const MessageHead& request, std::string_view upstream_head,
                   MessageHead& response, Buffer& upstream_bytes);

  /// Runs the exchange with `upstream` to its end. A connect that fails, or a fresh connection
  /// reset before any response byte, moves the request once to another member of its set
  /// (`ClientSide::rebind`) when it can be replayed.
  boost::asio::awaitable<Outcome> run(Upstream& upstream);

 private:
  /// What `send_request` did when it did not succeed.
  enum class SendResult : std::uint8_t { retry, answered, closed };
  /// What `read_response_head` found.
  enum class HeadResult : std::uint8_t { complete, retry, ended };

  boost::asio::awaitable<std::optional<SendResult>> send_request(int attempt,
                                                                 std::string_view first_body,
                                                                 bool body_complete);
  struct SlotRelease;

  boost::asio::awaitable<bool> take_connection_slot(bool body_complete);
  boost::asio::awaitable<std::optional<SendResult>> connect(bool body_complete);
  bool move_to_another_member();
  boost::asio::awaitable<std::optional<Outcome>> send_body();
  boost::asio::awaitable<HeadResult> read_response_head();
  boost::asio::awaitable<HeadResult> upstream_read_failed(boost::system::error_code ec,
                                                          bool got_bytes);
  boost::asio::awaitable<Outcome> deliver_response();
  boost::asio::awaitable<Outcome> relay_response(bool& upstream_reusable);
  boost::asio::awaitable<bool> relay_spliced(boost::asio::ip::tcp::socket& client,
                                             std::uint64_t length);
  boost::asio::awaitable<bool> wait_for(boost::asio::ip::tcp::socket& socket,
                                        boost::asio::ip::tcp::socket::wait_type what,
                                        std::chrono::milliseconds timeout);

  void arm(std::chrono::milliseconds timeout);
  [[nodiscard]] bool timed_out() const;
  [[nodiscard]] bool killed() const;

  Worker& worker_;
  SessionHandle& handle_;
  ClientSide& client_;
  ConnectionCap* slot_ = nullptr;  // the member's connection slot held, when it is capped
  // What the exchange needs of the request head, copied: the client side may read over the
  // head's bytes once the body streams.
  bool head_request_;       // a HEAD request: the response has no body, whatever it says
  bool idempotent_;         // may be retried after the upstream closed a pooled connection
  bool upgrade_requested_;  // the client asked to switch protocols
  std::string_view upstream_head_;
  MessageHead& response_;
  Buffer& bytes_;  // from the upstream
  // The member the request is bound to; owned by the client side's InFlight (see rebind).
  Upstream* upstream_ = nullptr;
  bool moved_ = false;  // already moved to another member once
  boost::asio::ip::tcp::socket socket_;
  bool reused_ = false;     // the connection came from the pool (a failure may mean it went stale)
  bool replayable_ = true;  // nothing was taken from the client beyond what is buffered
  std::size_t head_bytes_ = 0;             // the response head's size, once read
  Outcome last_outcome_ = Outcome::close;  // set by the steps that answer the client
};

}  // namespace handoff::proxy
