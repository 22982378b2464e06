#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/test_backend.hpp"

namespace handoff::test {

/// A request as the recording backend parsed it (with Beast's parser).
struct ParsedRequest {
  std::string method;
  std::string target;
  std::string host;
  std::string body;  ///< decoded
};

/// A backend that records every byte it receives on every connection, exactly, and answers
/// each request it can parse. It is what the relay's byte-level tests check: what reached the
/// backend, not only what the client got.
class RecordingBackend {
 public:
  /// The answer to one request, written in `pieces` with a short pause between them (so the
  /// proxy reads it in several reads). `close` closes the connection after it.
  struct Answer {
    std::vector<std::string> pieces;
    bool close = false;
  };
  using Responder = std::function<Answer(const ParsedRequest&)>;

  /// Starts listening on 127.0.0.1 (port 0).
  explicit RecordingBackend(Responder responder);

  /// `127.0.0.1:PORT`.
  [[nodiscard]] std::string address() const { return backend_->address(); }
  /// Every byte received so far, over all connections, in arrival order per connection.
  [[nodiscard]] std::string received() const;
  /// Requests parsed so far.
  [[nodiscard]] std::vector<ParsedRequest> requests() const;
  /// Connections accepted so far.
  [[nodiscard]] std::size_t connections() const { return backend_->connections(); }

  /// An answer of 200 with `body`, in one piece.
  static Answer ok(const std::string& body);

 private:
  void serve(BackendConnection& c);

  Responder responder_;
  mutable std::mutex mutex_;
  std::vector<std::string> streams_;  // per connection
  std::vector<ParsedRequest> requests_;
  std::unique_ptr<TestBackend> backend_;
};

/// Parses `bytes` as a sequence of HTTP/1.1 requests with Beast's parser. Returns the requests,
/// and sets `leftover` to the bytes after the last complete one (empty when the bytes are
/// exactly whole requests) and `error` when they do not parse.
std::vector<ParsedRequest> parse_requests(std::string_view bytes, std::string& leftover,
                                          std::string& error);

}  // namespace handoff::test
