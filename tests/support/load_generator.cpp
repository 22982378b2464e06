#include "tests/support/load_generator.hpp"

#include "tests/support/socket_client.hpp"

namespace handoff::test {

LoadGenerator::LoadGenerator(std::uint16_t port, std::string host, int threads)
    : port_(port),
      get_("GET /g HTTP/1.1\r\nHost: " + host + "\r\n\r\n"),
      post_("POST /p HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 5\r\n\r\nhello") {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] { run(i); });
  }
}

void LoadGenerator::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

std::map<std::string, int> LoadGenerator::bodies() const {
  std::lock_guard lock(mutex_);
  return bodies_;
}

std::vector<std::string> LoadGenerator::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

void LoadGenerator::run(int index) {
  auto record_failure = [&](const std::string& what) {
    ++failed_;
    std::lock_guard lock(mutex_);
    if (failures_.size() < 10) {
      failures_.push_back(what);
    }
  };
  while (!stop_) {
    try {
      SocketClient c(port_);
      for (int i = 0; i < 100 && !stop_; ++i) {
        const bool post = (i + index) % 3 == 0;
        if (!c.send(post ? post_ : get_)) {
          record_failure("send failed: " + c.last_error());
          break;
        }
        Response r = c.read_response();
        if (r.status != 200) {
          record_failure("status " + std::to_string(r.status) + ": " + r.body);
          break;
        }
        ++ok_;
        {
          std::lock_guard lock(mutex_);
          ++bodies_[r.body];
        }
        if (r.closed || r.header("connection") == "close") {
          break;  // the proxy asked to close: go on on a new connection, as clients do
        }
      }
    } catch (const std::exception& e) {
      record_failure(e.what());
    }
  }
}

}  // namespace handoff::test
