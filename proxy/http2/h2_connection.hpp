#pragma once

#include <nghttp2/nghttp2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/buffer.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

class ClientStream;
class H2Stream;

/// One HTTP/2 client connection (RFC 9113). nghttp2 does the framing, HPACK and flow-control
/// arithmetic; this class owns the I/O: a reader feeds it what the client sends, a writer sends
/// what it has to say, and each request stream runs as its own coroutine (`H2Stream`) that
/// picks its upstream when it starts. The connection is never pinned to an upstream.
///
/// Limits: at most `h2_max_streams` concurrent streams, flow-control windows of 256 KiB per
/// stream and 1 MiB per connection (request bodies are acknowledged only once they went
/// upstream, so a connection buffers at most 1 MiB of them), nghttp2's guards against reset,
/// CONTINUATION, SETTINGS and PING floods. Draining and shutdown send GOAWAY in two steps.
class H2Connection final : public SessionHooks {
 public:
  /// A connection over `client`, registered with its worker as `handle`; `preread` holds what
  /// was read already (the preface of a prior-knowledge connection).
  H2Connection(Worker& worker, ClientStream& client, SessionHandle& handle, Buffer& preread,
               std::string_view client_ip);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  /// Serves the connection until it ends, and every stream it started.
  boost::asio::awaitable<void> run();

  // For the streams.

  /// The nghttp2 session.
  nghttp2_session* session() { return session_; }
  /// The worker the connection runs on.
  Worker& worker() { return worker_; }
  /// The client's address, for X-Forwarded-For and the access log.
  [[nodiscard]] std::string_view client_ip() const { return client_ip_; }
  /// Whether the client came over TLS.
  [[nodiscard]] bool secure() const;
  /// Something may be ready to send: frames were submitted or data resumed.
  void wake_writer();
  /// Stream `id`'s coroutine has ended.
  void stream_done(std::int32_t id);

  // SessionHooks.
  void interrupt() override { wake_writer(); }
  void stop_requested() override;

 private:
  static nghttp2_session_callbacks* callbacks();
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t flags, void* self);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t len, void* self);
  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* self);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);

  H2Stream* stream(std::int32_t id);
  void start_stream(H2Stream& stream);
  void forget_if_done(std::int32_t id);
  bool feed(std::string_view bytes);
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  bool take_output();
  void keep_time();
  [[nodiscard]] Clock::time_point next_deadline() const;
  [[nodiscard]] Clock::time_point give_up_at() const;
  boost::asio::awaitable<void> end_streams();

  Worker& worker_;
  ClientStream& client_;
  SessionHandle& handle_;
  Buffer& in_;
  std::string client_ip_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<H2Stream>> streams_;
  std::size_t running_ = 0;                  // stream coroutines not yet ended
  std::string out_;                          // frames on their way to the client
  boost::asio::steady_timer writer_signal_;  // the writer waits on it; cancelled to wake it
  bool writer_woken_ = false;
  bool reader_done_ = false;
  bool failed_ = false;            // a protocol error ends the session (its GOAWAY still goes out)
  Clock::time_point quiet_since_;  // since nothing runs and nothing was written
  std::size_t heads_pending_ = 0;  // streams whose header block has not ended
  std::size_t oversized_heads_ = 0;     // header blocks over the limit, answered 431
  Clock::time_point heads_since_;       // since when some header block has been pending
  Clock::time_point notice_sent_at_{};  // the first GOAWAY of a graceful close
  bool stopping_ = false;               // a graceful close has begun
  bool final_goaway_ = false;           // its second GOAWAY was submitted
  bool terminated_ = false;             // closed for idleness or a stalled client
};

}  // namespace handoff::proxy
