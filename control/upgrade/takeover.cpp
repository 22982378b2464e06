#include "control/upgrade/takeover.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "control/protocol/json_fields.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// How long a successor may take from receiving the sockets to accepting on them: it restores
// the services and checks their containers with the engine.
constexpr auto kReadyWithin = std::chrono::minutes(5);
// How long the running process waits for workflows in progress before it hands over.
constexpr auto kWorkflowsWithin = std::chrono::minutes(10);
constexpr auto kMessageWithin = std::chrono::seconds(10);

// Whether the peer hung up (a successor that died while it waited).
bool peer_gone(int connection) {
  pollfd p{connection, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    throw std::runtime_error("malformed message from the other process");
  }
  return std::move(v.as_object());
}

}  // namespace

std::string takeover_socket_path(const std::string& control_path) {
  return (std::filesystem::path(control_path).parent_path() / "takeover.sock").string();
}

TakeoverListener::TakeoverListener(const std::string& path, Callbacks callbacks, bool staged)
    : file_(path, true),
      callbacks_(std::move(callbacks)),
      listener_(listen_unix(file_.bind_path())) {
  file_.bound();
  if (!staged) {
    file_.publish();  // over a file a process that died left
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("cannot make a pipe for the takeover socket");
  }
  wake_[0] = OwnedFd(fds[0]);
  wake_[1] = OwnedFd(fds[1]);
}

TakeoverListener::~TakeoverListener() {
  stop();
}

void TakeoverListener::start() {
  thread_ = std::thread([this] { serve(); });
}

void TakeoverListener::stop() {
  if (thread_.joinable()) {
    const char byte = 0;
    [[maybe_unused]] const ssize_t n = ::write(wake_[1].get(), &byte, 1);
    thread_.join();
  }
}

void TakeoverListener::serve() {
  while (true) {
    std::array<pollfd, 2> waits{pollfd{listener_.get(), POLLIN, 0},
                                pollfd{wake_[0].get(), POLLIN, 0}};
    if (::poll(waits.data(), waits.size(), -1) < 0) {
      continue;  // EINTR
    }
    if (waits[1].revents != 0) {
      return;
    }
    OwnedFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (connection.get() < 0) {
      continue;
    }
    const long uid = peer_uid(connection.get());
    if (uid != 0 && uid != static_cast<long>(::geteuid())) {
      fmt::print(stderr, "handoff: takeover refused to a process of user {}\n", uid);
      continue;
    }
    hand_over(connection.get());
  }
}

// One successor: hello, the handover, then its answer.
void TakeoverListener::hand_over(int connection) {
  SuccessorId who;
  try {
    const json::object hello =
        parse_object(receive_message(connection, Clock::now() + kMessageWithin).text);
    if (const json::value* p = hello.if_contains("pid"); p != nullptr && p->is_int64()) {
      who.pid = static_cast<pid_t>(p->as_int64());
    }
    who.token = field_text(hello, "token");
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: takeover: {}\n", e.what());
    return;
  }
  fmt::print(stderr, "handoff: process {} asks to take over\n", who.pid);
  std::optional<Handover> handover;
  const auto give_up = Clock::now() + kWorkflowsWithin;
  while (!(handover = callbacks_.offer(std::chrono::seconds(1)))) {
    if (peer_gone(connection) || Clock::now() >= give_up) {
      const std::string reason = fmt::format("workflows still run on {}", callbacks_.busy_reason());
      try {
        send_message(connection, json::serialize(json::object{{"error", reason}}), {},
                     Clock::now() + kMessageWithin);
      } catch (const std::exception&) {
        // The successor is gone already.
      }
      callbacks_.failed(who, reason);
      return;
    }
  }
  try {
    json::array listeners;
    std::vector<int> fds;
    for (const proxy::ListeningSocket& s : handover->listeners) {
      listeners.push_back(json::object{{"tls", s.tls}});
      fds.push_back(s.fd);
    }
    fds.push_back(STDOUT_FILENO);
    fds.push_back(STDERR_FILENO);
    if (handover->metrics >= 0) {
      fds.push_back(handover->metrics);
    }
    const json::object offer{{"pid", ::getpid()},
                             {"state", json::parse(handover->state_json)},
                             {"listeners", std::move(listeners)},
                             {"container", handover->container},
                             {"metrics", handover->metrics >= 0}};
    send_message(connection, json::serialize(offer), fds, Clock::now() + kMessageWithin);
    const json::object answer =
        parse_object(receive_message(connection, Clock::now() + kReadyWithin).text);
    if (const json::value* ready = answer.if_contains("ready");
        ready && ready->is_bool() && ready->as_bool()) {
      callbacks_.succeeded(who);
      return;
    }
    callbacks_.failed(who, field_text(answer, "error"));
  } catch (const std::exception& e) {
    callbacks_.failed(who, e.what());
  }
}

TakeoverClient::TakeoverClient(const std::string& path) : socket_(connect_unix(path)) {
  const char* token = std::getenv(kTakeoverTokenVariable);
  send_message(
      socket_.get(),
      json::serialize(json::object{{"pid", ::getpid()}, {"token", token != nullptr ? token : ""}}),
      {}, Clock::now() + kMessageWithin);
}

Inheritance TakeoverClient::receive(std::chrono::milliseconds timeout) {
  FdMessage message = receive_message(socket_.get(), Clock::now() + timeout);
  const json::object offer = parse_object(message.text);
  if (const std::string error = field_text(offer, "error"); !error.empty()) {
    throw std::runtime_error(error);
  }
  const json::value* listeners = offer.if_contains("listeners");
  const json::value* state = offer.if_contains("state");
  const json::value* metrics = offer.if_contains("metrics");
  const bool has_metrics = metrics != nullptr && metrics->is_bool() && metrics->as_bool();
  if (listeners == nullptr || !listeners->is_array() || state == nullptr ||
      message.fds.size() != listeners->as_array().size() + 2 + (has_metrics ? 1 : 0)) {
    throw std::runtime_error("malformed handover from the running process");
  }
  Inheritance inherited;
  inherited.from = static_cast<pid_t>(offer.at("pid").to_number<std::int64_t>());
  inherited.container = field_text(offer, "container");
  inherited.state = state_from_json(json::serialize(*state));
  std::size_t i = 0;
  for (const json::value& l : listeners->as_array()) {
    const json::value* tls = l.is_object() ? l.as_object().if_contains("tls") : nullptr;
    inherited.listeners.push_back(proxy::ListeningSocket{
        message.fds[i++].release(), tls != nullptr && tls->is_bool() && tls->as_bool()});
  }
  inherited.out = std::move(message.fds[i]);
  inherited.err = std::move(message.fds[i + 1]);
  if (has_metrics) {
    inherited.metrics = std::move(message.fds[i + 2]);
  }
  return inherited;
}

void TakeoverClient::ready() {
  send_message(socket_.get(), json::serialize(json::object{{"ready", true}}), {},
               Clock::now() + kMessageWithin);
}

void TakeoverClient::fail(std::string_view reason) {
  try {
    send_message(socket_.get(), json::serialize(json::object{{"error", reason}}), {},
                 Clock::now() + kMessageWithin);
  } catch (const std::exception&) {
    // The old process is gone or gave up; it serves on either way.
  }
}

}  // namespace handoff::control
