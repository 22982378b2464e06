#pragma once

#include <nghttp2/nghttp2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/buffer.hpp"
#include "proxy/http/field_block.hpp"
#include "proxy/http/http_head.hpp"
#include "proxy/http2/h2_request.hpp"
#include "proxy/request_front.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

class H2Connection;
class Service;
class Upstream;

/// The per-request state of a stream that is worth reusing: parsed heads and buffers.
struct H2StreamScratch {
  explicit H2StreamScratch(std::size_t max_header_bytes) : head(max_header_bytes) {}
  /// Empties it for the next stream, keeping the memory (a buffer grown past 64 KiB is freed).
  void clear() {
    for (std::string* s : {&h1_head, &upstream_head, &request_id, &body_in, &framed, &out}) {
      s->clear();
      if (s->capacity() > 64 * 1024) {
        s->shrink_to_fit();
      }
    }
    fields.clear();
    trailers.clear();
  }

  H2RequestHead head;         ///< the fields as they arrive
  std::string h1_head;        ///< the request head as HTTP/1.1, parsed into `request`
  MessageHead request;        ///< (views into `h1_head`)
  MessageHead response;       ///< the upstream's response head
  std::string upstream_head;  ///< the request head as forwarded
  std::string request_id;     ///< for the access log
  std::string body_in;        ///< request body received, not yet handed to the exchange
  std::string framed;         ///< the body piece the exchange holds, framed for HTTP/1.1
  FieldBlock fields;          ///< the response's fields
  FieldBlock trailers;        ///< the response's trailer fields
  std::string out;            ///< response body bytes for DATA frames
};

/// One HTTP/2 request stream: it gathers the request's fields, then runs as its own coroutine
/// through the request front, as an HTTP/1.1 request does (route, policies, the member, the
/// exchange), taking the response in HTTP/2 framing as that exchange's `ClientSide`. It is
/// registered with the worker as a session of its own, so that timeouts, drain kills and shutdown
/// act on it alone.
///
/// Backpressure both ways: request body bytes are acknowledged (WINDOW_UPDATE) only once they
/// went upstream; response bytes wait here, at most 64 KiB, until the client's window takes
/// them, and the upstream is read no faster.
class H2Stream final : public RequestFront, public SessionHooks {
 public:
  /// Stream `id` of `connection`.
  H2Stream(H2Connection& connection, std::int32_t id);
  ~H2Stream();
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // From the connection, as frames arrive and leave.

  /// A request field.
  void on_header(std::string_view name, std::string_view value) { x_->head.add(name, value); }
  /// A trailer field; false when it is not allowed as one (the stream is then reset).
  bool on_trailer(std::string_view name, std::string_view value);
  /// The request's header section ended; `end_stream`: it has no body.
  void on_headers_end(bool end_stream);
  /// Request body bytes.
  void on_data(std::string_view bytes);
  /// The request (body and trailers) is complete.
  void on_end_stream();
  /// nghttp2 closed the stream, or the connection went.
  void on_closed();
  /// The frame that ends the response went out.
  void on_response_sent();
  /// Serves the request: the connection runs it as a coroutine after `on_headers_end`.
  boost::asio::awaitable<void> run();
  /// Whether nghttp2 closed the stream.
  [[nodiscard]] bool closed() const { return closed_; }
  /// Whether its request header block has ended.
  [[nodiscard]] bool head_received() const { return head_received_; }
  /// Whether the header block went over the size or field limit (the stream answers 431).
  [[nodiscard]] bool head_too_large() const { return x_->head.verdict().refusal == 431; }
  /// The stream's id.
  [[nodiscard]] std::int32_t id() const { return id_; }
  /// Whether its coroutine runs (the connection keeps the stream until it has ended).
  [[nodiscard]] bool running() const { return running_; }
  /// Marks its coroutine as started or ended.
  void set_running(bool on) { running_ = on; }

  // ClientSide.
  BodyPiece first_body() override { return first_body_; }
  boost::asio::awaitable<BodyRead> next_body() override;
  void body_sent(const BodyPiece& piece) override;
  boost::asio::awaitable<bool> send_interim(const MessageHead& response) override;
  ChunkedOutput begin_response(const MessageHead& response) override;
  boost::asio::awaitable<bool> send_body(std::string_view bytes) override;
  boost::asio::ip::tcp::socket* splice_target() override { return nullptr; }
  void spliced(std::size_t /*n*/) override {}
  void response_trailers(std::string_view fields) override;
  Outcome end_response() override;
  boost::asio::awaitable<Outcome> reply(int status, std::string_view text,
                                        bool /*close*/) override {
    return answer(status, text, {});
  }
  boost::asio::awaitable<Outcome> reply_busy(std::string_view text, bool /*close*/) override {
    return answer(503, text, "Retry-After: 1");
  }
  boost::asio::awaitable<Outcome> switch_protocols(const MessageHead& response,
                                                   boost::asio::ip::tcp::socket& upstream,
                                                   Buffer& upstream_bytes) override;
  [[nodiscard]] bool persistent() const override { return true; }

  // RequestFront.
  boost::asio::awaitable<Outcome> answer_unread(int status, std::string_view text,
                                                std::string_view extra_field,
                                                bool logged_as_error) override {
    return answer(status, text, extra_field, logged_as_error);
  }
  std::optional<Refusal> take_first_body() override;

  // SessionHooks: a timeout or kill wakes whatever the stream waits for.
  void interrupt() override;

 private:
  static ssize_t read_response(nghttp2_session*, std::int32_t, std::uint8_t* buf,
                               std::size_t length, std::uint32_t* flags, nghttp2_data_source* src,
                               void*);

  boost::asio::awaitable<void> serve_request();
  boost::asio::awaitable<bool> wait(Millis timeout);
  BodyPiece take_body();
  [[nodiscard]] int refuse_body() const;
  boost::asio::awaitable<Outcome> answer(int status, std::string_view text,
                                         std::string_view extra_field, bool logged_as_error = true);
  bool submit_response();
  void reset(std::uint32_t error_code);
  [[nodiscard]] std::size_t unsent() const { return x_->out.size() - out_at_; }

  H2Connection& connection_;
  std::int32_t id_;
  SessionHandle handle_;
  boost::asio::steady_timer wake_;      // a wait's timer, cancelled to wake it
  std::unique_ptr<H2StreamScratch> x_;  // borrowed from the worker's free list
  Buffer up_;                           // bytes from the upstream

  // The request body.
  bool has_body_ = false;
  bool body_ended_ = false;
  bool chunked_ = false;  // the body goes upstream chunked (no content-length was sent)
  bool continue_sent_ = false;
  BodyPiece first_body_;
  std::uint64_t body_bytes_ = 0;  // received in all
  std::size_t unconsumed_ = 0;    // received and not yet acknowledged to the client

  // The response.
  std::size_t out_at_ = 0;
  bool out_ended_ = false;
  bool submitted_ = false;   // the response head was handed to nghttp2
  bool sent_whole_ = false;  // its last frame went out
  bool closed_ = false;
  bool running_ = false;
  bool head_received_ = false;
  bool reset_sent_ = false;
};

}  // namespace handoff::proxy
