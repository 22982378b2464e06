// handoff-test-app: the small HTTP app that tests, benchmarks and the demo deploy.
//
// It serves
//   GET /up          200 "ok" (503 when UNHEALTHY=1)
//   GET /slow?ms=N   the version, after N milliseconds
//   GET /whoami      its PORT: which replica answered
//   anything else    200 with the version (APP_VERSION) as the body, after DELAY_MS (if set)
// and is configured through its environment:
//   PORT (default 8080), APP_VERSION (default "dev"), START_DELAY_MS (listen late),
//   UNHEALTHY=1, EXIT_AFTER_MS with EXIT_CODE (exit on its own, e.g. to fail at start),
//   DELAY_MS (every answer but /up and /whoami waits that long: a slow replica),
//   FAIL_EVERY=N (every Nth of those answers is a 500: a faulty version).
// Built static so that it runs in a FROM scratch image.
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::string env(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

long env_number(const char* name, long fallback) {
  std::string v = env(name, "");
  long n = fallback;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

struct AppConfig {
  std::string version = env("APP_VERSION", "dev");
  bool unhealthy = env("UNHEALTHY", "") == "1";
  std::string port = env("PORT", "8080");  // /whoami answers it: which replica answered
  long delay_ms = env_number("DELAY_MS", 0);
  long fail_every = env_number("FAIL_EVERY", 0);
};

// Answers counted over every connection (one thread), for FAIL_EVERY.
long answers_so_far = 0;

std::string response(int status, const std::string& body, bool close) {
  const char* reason = status == 200   ? "OK"
                       : status == 503 ? "Service Unavailable"
                       : status == 500 ? "Internal Server Error"
                                       : "Bad Request";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
}

std::string header_value(const std::string& head, const std::string& lower_name) {
  std::string lower = head;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto pos = lower.find("\r\n" + lower_name + ":");
  if (pos == std::string::npos) {
    return {};
  }
  pos += lower_name.size() + 3;
  auto end = head.find("\r\n", pos);
  std::string v = head.substr(pos, end - pos);
  v.erase(0, v.find_first_not_of(" \t"));
  return v;
}

asio::awaitable<void> serve(tcp::socket socket, const AppConfig& cfg) {
  std::string buffer;
  char chunk[16384];
  while (true) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), nothrow);
      if (ec) {
        co_return;
      }
      buffer.append(chunk, n);
      if (buffer.size() > 65536) {
        co_return;
      }
    }
    const std::string head = buffer.substr(0, end + 4);
    buffer.erase(0, end + 4);
    // Discard a Content-Length body (the app never needs one).
    std::string cl = header_value(head, "content-length");
    std::size_t body = cl.empty() ? 0 : std::stoul(cl);
    while (buffer.size() < body) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), nothrow);
      if (ec) {
        co_return;
      }
      buffer.append(chunk, n);
    }
    buffer.erase(0, body);

    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string target =
        line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    const bool close = header_value(head, "connection") == "close" || line.ends_with("HTTP/1.0");
    std::string out;
    if (target == "/up") {
      out = cfg.unhealthy ? response(503, "unhealthy\n", close) : response(200, "ok\n", close);
    } else if (target == "/whoami") {
      out = response(200, cfg.port + "\n", close);
    } else {
      long ms = cfg.delay_ms;
      if (target.rfind("/slow", 0) == 0) {
        auto pos = target.find("ms=");
        ms = pos == std::string::npos ? 1000 : std::atol(target.c_str() + pos + 3);
      }
      if (ms > 0) {
        asio::steady_timer timer(socket.get_executor(), std::chrono::milliseconds(ms));
        co_await timer.async_wait(nothrow);
      }
      const bool fail = cfg.fail_every > 0 && ++answers_so_far % cfg.fail_every == 0;
      out = fail ? response(500, "failed\n", close) : response(200, cfg.version + "\n", close);
    }
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), nothrow);
    if (ec || close) {
      co_return;
    }
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, const AppConfig& cfg) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) {
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), cfg), asio::detached);
  }
}

}  // namespace

int main() {
  const AppConfig cfg;
  const long port = env_number("PORT", 8080);
  const long start_delay = env_number("START_DELAY_MS", 0);
  const long exit_after = env_number("EXIT_AFTER_MS", -1);
  const int exit_code = static_cast<int>(env_number("EXIT_CODE", 1));
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("test app %s starting (port %ld)\n", cfg.version.c_str(), port);
  if (exit_after >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(exit_after));
    std::printf("test app %s exiting with code %d as told (EXIT_AFTER_MS)\n", cfg.version.c_str(),
                exit_code);
    return exit_code;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(start_delay));
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  try {
    tcp::endpoint ep(tcp::v4(), static_cast<unsigned short>(port));
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test app: cannot listen on port %ld: %s\n", port, e.what());
    return 1;
  }
  std::printf("test app %s listening on port %ld%s\n", cfg.version.c_str(), port,
              cfg.unhealthy ? " (unhealthy)" : "");
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](auto, int) { io.stop(); });
  asio::co_spawn(io, listen(acceptor, cfg), asio::detached);
  io.run();
  std::printf("test app %s stopped\n", cfg.version.c_str());
  return 0;
}
