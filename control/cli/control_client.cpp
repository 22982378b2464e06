#include "control/cli/control_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "containers/unix_socket.hpp"

namespace handoff::control {

namespace {

struct Sink {
  std::string* body = nullptr;
  const std::function<void(std::string_view)>* on_line = nullptr;
  std::string pending;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t len = size * n;
  if (sink->on_line == nullptr || !*sink->on_line) {
    sink->body->append(data, len);
    return len;
  }
  sink->pending.append(data, len);
  std::size_t start = 0;
  for (std::size_t nl; (nl = sink->pending.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    if (nl > start) {  // an empty line is the server's heartbeat on a quiet stream
      (*sink->on_line)(std::string_view(sink->pending).substr(start, nl - start));
    }
  }
  sink->pending.erase(0, start);
  return len;
}

// How long a refused connection is tried again: right after a restart the old socket file is
// still there while the new handoff loads its state, and then binds a new one over it.
constexpr auto kRefusedRetry = std::chrono::seconds(3);
constexpr auto kRefusedPause = std::chrono::milliseconds(100);

// What a transfer cut short by the proxy means to the user, or "" for another failure.
std::string cut_short_message(CURLcode rc, const std::string& socket) {
  if (rc != CURLE_PARTIAL_FILE && rc != CURLE_GOT_NOTHING && rc != CURLE_RECV_ERROR) {
    return {};
  }
  return fmt::format(
      "the proxy closed the connection before the operation ended (did it stop or restart?); "
      "see its state with `handoff status --control {}` and its log",
      socket);
}

}  // namespace

void ControlClient::check_reachable() const {
  const std::string hint =
      "start `handoff run`, or point --control or HANDOFF_CONTROL at its socket";
  int err = containers::probe_unix_socket(path_);
  for (const auto until = std::chrono::steady_clock::now() + kRefusedRetry;
       err == ECONNREFUSED && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(kRefusedPause);
    err = containers::probe_unix_socket(path_);
  }
  if (err == 0) {
    return;
  }
  if (err == ENOENT) {
    throw UnreachableError(fmt::format("no proxy is running: {} does not exist ({})", path_, hint));
  }
  if (err == ECONNREFUSED) {
    throw UnreachableError(fmt::format("no proxy is listening on {} ({})", path_, hint));
  }
  if (err == EACCES || err == EPERM) {
    throw UnreachableError(fmt::format(
        "permission denied on {} (run as its owner or a member of its --control-group)", path_));
  }
  throw UnreachableError(fmt::format("cannot reach {}: {}", path_, std::strerror(err)));
}

int ControlClient::request(std::string_view method, std::string_view path,
                           const std::string& payload, std::string* body,
                           const std::function<void(std::string_view)>& on_line) {
  check_reachable();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    throw UnreachableError("cannot initialise libcurl");
  }
  std::string scratch;
  Sink sink{body != nullptr ? body : &scratch, &on_line, {}};
  const std::string url = fmt::format("http://handoff{}", path);
  const std::string verb(method);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(
      headers, on_line ? "Accept: application/x-ndjson" : "Accept: application/json");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_UNIX_SOCKET_PATH, path_.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, verb.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  if (verb != "GET") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  }
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (std::string cut = cut_short_message(rc, path_); !cut.empty()) {
    throw UnreachableError(cut);
  }
  if (rc != CURLE_OK) {
    throw UnreachableError(
        fmt::format("control request to {} failed: {}", path_, curl_easy_strerror(rc)));
  }
  if (!sink.pending.empty() && on_line) {
    on_line(sink.pending);
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return static_cast<int>(status);
}

}  // namespace handoff::control
