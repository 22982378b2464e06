#include "tests/support/recording_backend.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <thread>

namespace handoff::test {

namespace http = boost::beast::http;

namespace {

using RequestParser = http::request_parser<http::string_body>;

std::unique_ptr<RequestParser> new_parser() {
  auto parser = std::make_unique<RequestParser>();
  parser->eager(true);
  parser->body_limit(boost::none);
  parser->header_limit(1 << 20);
  return parser;
}

ParsedRequest to_parsed(const http::request<http::string_body>& m) {
  return ParsedRequest{std::string(m.method_string()), std::string(m.target()),
                       std::string(m[http::field::host]), m.body()};
}

/// Feeds `bytes` to the parser. Returns how many it took; `done` says a message completed.
std::size_t feed(RequestParser& parser, std::string_view bytes, bool& done,
                 boost::system::error_code& ec) {
  std::size_t used = 0;
  done = false;
  while (used < bytes.size() && !parser.is_done()) {
    std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) {
      ec = {};
      used += n;  // Beast may take part of the bytes before it needs more
      break;
    }
    if (ec) {
      return used;
    }
    used += n;
    if (n == 0) {
      break;
    }
  }
  done = parser.is_done();
  return used;
}

}  // namespace

RecordingBackend::RecordingBackend(Responder responder) : responder_(std::move(responder)) {
  backend_ =
      std::make_unique<TestBackend>([this](BackendConnection& c, TestBackend&) { serve(c); });
}

void RecordingBackend::serve(BackendConnection& c) {
  std::size_t index;
  {
    std::lock_guard lock(mutex_);
    index = streams_.size();
    streams_.emplace_back();
  }
  auto parser = new_parser();
  std::string pending;
  while (true) {
    std::string bytes = c.read_some();
    if (bytes.empty()) {
      return;
    }
    {
      std::lock_guard lock(mutex_);
      streams_[index] += bytes;
    }
    pending += bytes;
    while (!pending.empty()) {
      bool done = false;
      boost::system::error_code ec;
      const std::size_t used = feed(*parser, pending, done, ec);
      if (ec) {
        c.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      pending.erase(0, used);
      if (!done) {
        break;
      }
      ParsedRequest request = to_parsed(parser->get());
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      parser = new_parser();
      const Answer answer = responder_(request);
      for (std::size_t i = 0; i < answer.pieces.size(); ++i) {
        if (i > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        c.send(answer.pieces[i]);
      }
      if (answer.close) {
        return;
      }
    }
  }
}

std::string RecordingBackend::received() const {
  std::lock_guard lock(mutex_);
  std::string all;
  for (const std::string& s : streams_) {
    all += s;
  }
  return all;
}

std::vector<ParsedRequest> RecordingBackend::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

RecordingBackend::Answer RecordingBackend::ok(const std::string& body) {
  return Answer{
      {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body},
      false};
}

std::vector<ParsedRequest> parse_requests(std::string_view bytes, std::string& leftover,
                                          std::string& error) {
  std::vector<ParsedRequest> out;
  leftover.clear();
  error.clear();
  while (!bytes.empty()) {
    auto parser = new_parser();
    bool done = false;
    boost::system::error_code ec;
    const std::size_t used = feed(*parser, bytes, done, ec);
    if (ec) {
      error = ec.message();
      leftover = bytes;
      return out;
    }
    if (!done) {
      leftover = bytes;
      return out;
    }
    out.push_back(to_parsed(parser->get()));
    bytes.remove_prefix(used);
  }
  return out;
}

}  // namespace handoff::test
