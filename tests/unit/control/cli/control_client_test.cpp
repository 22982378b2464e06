// The CLI's control client against a scripted server on a real unix socket: the request it
// sends, streamed lines however the server's writes split them (heartbeats skipped), whole
// bodies, and the plain-words errors when no proxy answers.
#include "control/cli/control_client.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

using handoff::control::ControlClient;
using handoff::control::UnreachableError;
using handoff::test::TempDir;

namespace {

int unix_socket_at(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

/// Accepts one connection on a unix socket, keeps the request it reads, and answers with
/// `pieces`, written one by one with a pause between them.
class ScriptedServer {
 public:
  ScriptedServer(const std::string& path, std::vector<std::string> pieces)
      : fd_(unix_socket_at(path)), pieces_(std::move(pieces)) {
    ::listen(fd_, 1);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(fd_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;
  /// The request as received (head and body), once the client has its answer.
  [[nodiscard]] const std::string& request() const { return request_; }

 private:
  // The client first probes the socket with a connection that sends nothing; the request
  // comes on the next one.
  void serve() {
    int c = -1;
    while (request_.empty()) {
      if (c >= 0) {
        ::close(c);
      }
      c = ::accept(fd_, nullptr, nullptr);
      read_request(c);
    }
    for (const std::string& p : pieces_) {
      (void)::send(c, p.data(), p.size(), MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::close(c);
  }
  void read_request(int c) {
    char buf[4096];
    while (request_.find("\r\n\r\n") == std::string::npos ||
           request_.size() < request_.find("\r\n\r\n") + 4 + body_length()) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) {
        return;
      }
      request_.append(buf, static_cast<std::size_t>(n));
    }
  }
  [[nodiscard]] std::size_t body_length() const {
    const std::size_t at = request_.find("Content-Length: ");
    return at == std::string::npos ? 0 : std::stoul(request_.substr(at + 16));
  }

  int fd_;
  std::vector<std::string> pieces_;
  std::string request_;
  std::thread thread_;
};

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n";

}  // namespace

TEST_CASE("streamed lines arrive whole however the server's writes cut them") {
  const std::string body = "{\"step\":\"a\"}\n\n{\"step\":\"b\"}\n\n\n{\"result\":\"ok\"}";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    TempDir dir;
    const std::string path = (dir.path() / "control.sock").string();
    ScriptedServer server(path, {std::string(kStreamHead) + body.substr(0, cut), body.substr(cut)});
    std::vector<std::string> lines;
    ControlClient client(path);
    const int status = client.request("POST", "/v1/services/web/swap", R"({"to":"x"})", nullptr,
                                      [&](std::string_view line) { lines.emplace_back(line); });
    CAPTURE(cut);
    CHECK(status == 200);
    // Empty lines are heartbeats, never passed on; the last line needs no newline.
    CHECK(lines ==
          std::vector<std::string>{"{\"step\":\"a\"}", "{\"step\":\"b\"}", "{\"result\":\"ok\"}"});
  }
}

TEST_CASE("a plain request sends its method, path, payload and Accept, and gets the body") {
  TempDir dir;
  const std::string path = (dir.path() / "control.sock").string();
  ScriptedServer server(
      path, {"HTTP/1.1 409 Conflict\r\nContent-Length: 16\r\n\r\n", "{\"error\":\"busy\"}"});
  std::string body;
  const int status =
      ControlClient(path).request("PATCH", "/v1/services/web", R"({"hosts":["a"]})", &body);
  CHECK(status == 409);
  CHECK(body == "{\"error\":\"busy\"}");
  const std::string& sent = server.request();
  CHECK(sent.rfind("PATCH /v1/services/web HTTP/1.1\r\n", 0) == 0);
  CHECK(sent.find("Accept: application/json\r\n") != std::string::npos);
  CHECK(sent.ends_with("\r\n\r\n{\"hosts\":[\"a\"]}"));
}

TEST_CASE("no proxy to talk to is said in plain words") {
  TempDir dir;
  const std::string missing = (dir.path() / "none.sock").string();
  std::string body;
  CHECK_THROWS_WITH_AS(ControlClient(missing).request("GET", "/v1/status", {}, &body),
                       doctest::Contains("no proxy is running"), UnreachableError);
  // A socket file nobody listens on (a proxy that died without removing it).
  const std::string stale = (dir.path() / "stale.sock").string();
  const int fd = unix_socket_at(stale);
  ::close(fd);
  CHECK_THROWS_WITH_AS(ControlClient(stale).request("GET", "/v1/status", {}, &body),
                       doctest::Contains("no proxy is listening"), UnreachableError);
}

TEST_CASE("a proxy that closes mid-operation is said so, with where to look") {
  TempDir dir;
  const std::string path = (dir.path() / "control.sock").string();
  ScriptedServer server(path, {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"event\":"});
  std::string body;
  CHECK_THROWS_WITH_AS(ControlClient(path).request("POST", "/v1/services/web/swap", "{}", &body),
                       doctest::Contains("the proxy closed the connection before the operation "
                                         "ended"),
                       UnreachableError);
}

TEST_CASE("a socket that starts listening a moment later (a restart) is reached") {
  TempDir dir;
  const std::string path = (dir.path() / "control.sock").string();
  const int stale = unix_socket_at(path);  // bound, not yet listening: connections are refused
  std::thread later([stale] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::listen(stale, 4);
    const int c = ::accept(stale, nullptr, nullptr);  // the probe
    ::close(c);
    const int r = ::accept(stale, nullptr, nullptr);
    char buf[4096];
    (void)::read(r, buf, sizeof buf);
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    (void)::write(r, answer.data(), answer.size());
    ::close(r);
  });
  std::string body;
  CHECK(ControlClient(path).request("GET", "/v1/status", {}, &body) == 200);
  CHECK(body == "{}");
  later.join();
  ::close(stale);
}
