#include "containers/docker_engine.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "containers/api_fields.hpp"
#include "containers/log_demultiplexer.hpp"
#include "containers/unix_socket.hpp"

namespace handoff::containers {

namespace json = boost::json;

namespace {

/// The newest API version this client speaks; the engine's is used when it is lower.
constexpr std::string_view kOurApiVersion = "1.43";
constexpr std::size_t kMaxErrorBody = 4096;

// libcurl write callback that hands each piece of the body to a std::function.
std::size_t forward_data(char* data, std::size_t size, std::size_t n, void* fn) {
  (*static_cast<const std::function<void(std::string_view)>*>(fn))(
      std::string_view(data, size * n));
  return size * n;
}

// libcurl's progress callback, called about once a second even while no data comes: a
// non-zero return aborts the transfer.
int ask_keep_going(void* fn, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return (*static_cast<const std::function<bool()>*>(fn))() ? 0 : 1;
}

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::size_t read_header(char* data, std::size_t size, std::size_t n, void* out) {
  std::string_view line(data, size * n);
  constexpr std::string_view name = "api-version:";
  if (line.size() > name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
    std::string v(line.substr(name.size()));
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    *static_cast<std::string*>(out) = v;
  }
  return size * n;
}

// "1.41" < "1.43", compared as numbers.
bool version_less(const std::string& a, std::string_view b) {
  auto parse = [](std::string_view v) {
    auto dot = v.find('.');
    return std::make_pair(
        std::atoi(std::string(v.substr(0, dot)).c_str()),
        dot == std::string_view::npos ? 0 : std::atoi(std::string(v.substr(dot + 1)).c_str()));
  };
  return parse(a) < parse(b);
}

}  // namespace

DockerEngine::DockerEngine(std::string docker_host) {
  if (docker_host.empty()) {
    const char* env = std::getenv("DOCKER_HOST");
    docker_host = env != nullptr ? env : "";
  }
  if (docker_host.empty()) {
    docker_host = "unix:///var/run/docker.sock";
  }
  where_ = docker_host;
  if (docker_host.rfind("unix://", 0) == 0) {
    socket_ = docker_host.substr(7);
    base_url_ = "http://docker";
  } else if (docker_host.rfind("tcp://", 0) == 0) {
    base_url_ = "http://" + docker_host.substr(6);
  } else {
    throw EngineError(
        0, fmt::format("DOCKER_HOST '{}' must be unix://PATH or tcp://HOST:PORT", docker_host));
  }
  Reply ping = call("GET", "/_ping", {}, 5000);
  expect(ping, {200}, "ping the engine");
  version_ = std::string(kOurApiVersion);
  if (!ping.api_version.empty() && version_less(ping.api_version, kOurApiVersion)) {
    version_ = ping.api_version;
  }
}

DockerEngine::Reply DockerEngine::call(const std::string& method, const std::string& path,
                                       const std::string& body, long timeout_ms,
                                       const std::string& header,
                                       const std::function<void(std::string_view)>* on_data,
                                       const std::function<bool()>* keep_going) const {
  if (!socket_.empty()) {
    // Say plainly why a unix socket cannot be used (missing, refused, permission).
    const int err = probe_unix_socket(socket_);
    if (err != 0) {
      if (err == EACCES || err == EPERM) {
        throw EngineError(0, fmt::format("permission denied on the Docker socket {} (run as root "
                                         "or in the docker group)",
                                         socket_));
      }
      throw EngineError(0, fmt::format("cannot reach the Docker engine at {}: {} (is dockerd "
                                       "running?)",
                                       socket_, std::strerror(err)));
    }
  }
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    throw EngineError(0, "cannot initialise libcurl");
  }
  const std::string url =
      path == "/_ping" ? base_url_ + path : fmt::format("{}/v{}{}", base_url_, version_, path);
  Reply reply;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!header.empty()) {
    headers = curl_slist_append(headers, header.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  if (!socket_.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
  }
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  if (method == "POST") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (on_data != nullptr) {
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, forward_data);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, on_data);
  } else {
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply.body);
  }
  if (keep_going != nullptr) {
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, ask_keep_going);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, keep_going);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &reply.api_version);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc == CURLE_ABORTED_BY_CALLBACK && keep_going != nullptr) {
    reply.status = 200;  // stopped because the caller asked to
    return reply;
  }
  if (rc != CURLE_OK) {
    throw EngineError(0, fmt::format("Docker engine at {}: {} {}: {}", where_, method, path,
                                     curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  return reply;
}

json::value DockerEngine::request_json(const std::string& method, const std::string& path,
                                       const std::string& body, std::initializer_list<int> ok,
                                       const std::string& what) {
  const Reply r = call(method, path, body);
  expect(r, ok, what);
  if (r.body.empty()) {
    return nullptr;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) {
    throw EngineError(r.status, fmt::format("cannot {}: the engine's answer is not JSON", what));
  }
  return v;
}

void DockerEngine::expect(const Reply& r, std::initializer_list<int> ok, const std::string& what) {
  for (int s : ok) {
    if (r.status == s) {
      return;
    }
  }
  std::string message = r.body.substr(0, kMaxErrorBody);
  boost::system::error_code ec;
  json::value v = json::parse(message, ec);
  if (!ec && v.is_object()) {
    message = string_or_empty(v.as_object(), "message");
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.pop_back();
  }
  throw EngineError(r.status, fmt::format("cannot {}: {} (HTTP {})", what, message, r.status));
}

std::string DockerEngine::create(const ContainerSpec& spec) {
  json::object body{
      {"Image", spec.image},
      {"Env", string_array(spec.env)},
      {"Labels", string_object(spec.labels)},
      {"StopTimeout", spec.stop_timeout.count()},
      {"HostConfig", json::object{{"NetworkMode",
                                   spec.network.empty() ? std::string("default") : spec.network}}}};
  Reply r = call("POST", "/containers/create?name=" + url_encode(spec.name), json::serialize(body));
  expect(r, {201}, fmt::format("create container {} from {}", spec.name, spec.image));
  return string_or_empty(json::parse(r.body).as_object(), "Id");
}

json::object DockerEngine::inspect_raw(const std::string& id) {
  Reply r = call("GET", "/containers/" + url_encode(id) + "/json");
  expect(r, {200}, "inspect container " + id);
  json::value root = json::parse(r.body);
  return root.is_object() ? std::move(root.as_object()) : json::object{};
}

std::string DockerEngine::create_raw(const std::string& name, const json::object& body) {
  Reply r = call("POST", "/containers/create?name=" + url_encode(name), json::serialize(body));
  expect(r, {201}, "create container " + name);
  return string_or_empty(json::parse(r.body).as_object(), "Id");
}

void DockerEngine::remove_keeping_volumes(const std::string& id) {
  expect(call("DELETE", "/containers/" + id + "?force=true"), {204, 404}, "remove container " + id);
}

void DockerEngine::rename(const std::string& id, const std::string& name) {
  expect(call("POST", fmt::format("/containers/{}/rename?name={}", id, url_encode(name))), {204},
         fmt::format("rename container {} to {}", id, name));
}

void DockerEngine::set_restart_policy(const std::string& id, const std::string& policy) {
  const json::object body{{"RestartPolicy", json::object{{"Name", policy}}}};
  expect(call("POST", fmt::format("/containers/{}/update", id), json::serialize(body)), {200},
         fmt::format("set the restart policy of {}", id));
}

bool DockerEngine::wait_stopped(const std::string& id, const std::function<bool()>& keep_going) {
  // The engine answers when the container stops; the transfer is abandoned when told to.
  constexpr long kDay = 24L * 3600 * 1000;
  bool stopped = false;
  const std::function<void(std::string_view)> on_data = [&stopped](std::string_view) {
    stopped = true;
  };
  Reply r = call("POST", fmt::format("/containers/{}/wait?condition=not-running", id), {}, kDay, {},
                 &on_data, &keep_going);
  if (r.status == 404) {
    return true;  // gone already
  }
  expect(r, {200}, "wait for container " + id);
  return stopped;
}

void DockerEngine::start(const std::string& id) {
  expect(call("POST", "/containers/" + id + "/start"), {204, 304}, "start container " + id);
}

ContainerInfo DockerEngine::inspect(const std::string& id) {
  Reply r = call("GET", "/containers/" + url_encode(id) + "/json");
  expect(r, {200}, "inspect container " + id);
  const json::object root = json::parse(r.body).as_object();
  ContainerInfo info;
  info.id = string_or_empty(root, "Id");
  info.name = string_or_empty(root, "Name");
  if (!info.name.empty() && info.name.front() == '/') {
    info.name.erase(0, 1);
  }
  if (const json::value* state = root.if_contains("State"); state && state->is_object()) {
    const json::object& s = state->as_object();
    info.state = string_or_empty(s, "Status");
    info.running = s.contains("Running") && s.at("Running").is_bool() && s.at("Running").as_bool();
    if (const json::value* code = s.if_contains("ExitCode"); code && code->is_number()) {
      info.exit_code = code->to_number<int>();
    }
    if (const json::value* health = s.if_contains("Health"); health && health->is_object()) {
      info.health = string_or_empty(health->as_object(), "Status");
    }
  }
  if (const json::value* config = root.if_contains("Config"); config && config->is_object()) {
    const json::object& c = config->as_object();
    info.image = string_or_empty(c, "Image");
    info.labels = string_map(c.if_contains("Labels"));
    if (const json::value* env = c.if_contains("Env"); env && env->is_array()) {
      for (const json::value& e : env->as_array()) {
        info.env.emplace_back(e.as_string());
      }
    }
  }
  if (const json::value* ns = root.if_contains("NetworkSettings"); ns && ns->is_object()) {
    if (const json::value* nets = ns->as_object().if_contains("Networks");
        nets && nets->is_object()) {
      for (const auto& [name, net] : nets->as_object()) {
        if (net.is_object()) {
          info.ips[std::string(name)] = string_or_empty(net.as_object(), "IPAddress");
        }
      }
    }
  }
  return info;
}

void DockerEngine::stop(const std::string& id, std::chrono::seconds timeout) {
  expect(call("POST", fmt::format("/containers/{}/stop?t={}", id, timeout.count()), {},
              (timeout.count() + 30) * 1000),
         {204, 304}, "stop container " + id);
}

void DockerEngine::remove(const std::string& id) {
  expect(call("DELETE", "/containers/" + id + "?force=true&v=true"), {204, 404},
         "remove container " + id);
}

std::vector<ContainerSummary> DockerEngine::list(const std::string& label) {
  const std::string filters = json::serialize(json::object{{"label", json::array{label}}});
  Reply r = call("GET", "/containers/json?all=true&filters=" + url_encode(filters));
  expect(r, {200}, "list containers");
  std::vector<ContainerSummary> out;
  const json::value listing = json::parse(r.body);
  for (const json::value& v : listing.as_array()) {
    const json::object& o = v.as_object();
    ContainerSummary s;
    s.id = string_or_empty(o, "Id");
    s.image = string_or_empty(o, "Image");
    s.state = string_or_empty(o, "State");
    s.labels = string_map(o.if_contains("Labels"));
    if (const json::value* names = o.if_contains("Names");
        names && names->is_array() && !names->as_array().empty()) {
      s.name = std::string(names->as_array().front().as_string());
      if (!s.name.empty() && s.name.front() == '/') {
        s.name.erase(0, 1);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

void DockerEngine::follow_logs(const std::string& id, int lines,
                               const std::function<void(std::string_view)>& output,
                               const std::function<bool()>& keep_going) {
  inspect(id);  // a missing container is a clear error, not a log stream of its error body
  LogDemultiplexer demux;
  std::string error_body;
  const std::function<void(std::string_view)> on_data = [&](std::string_view bytes) {
    if (error_body.size() < 4096) {
      error_body.append(bytes.substr(0, 4096));
    }
    if (std::string text = demux.feed(bytes); !text.empty()) {
      output(text);
    }
  };
  const std::string tail = lines < 0 ? std::string("all") : std::to_string(lines);
  const Reply r =
      call("GET",
           fmt::format("/containers/{}/logs?stdout=true&stderr=true&follow=true&tail={}", id, tail),
           {}, 0, {}, &on_data, &keep_going);
  if (r.status != 200) {
    throw EngineError(r.status,
                      fmt::format("cannot follow the logs of container {}: {}", id, error_body));
  }
  if (std::string rest = demux.finish(); !rest.empty()) {
    output(rest);
  }
}

// GET /events streams one JSON object per line; the filter keeps the engine from sending
// anything but the deaths of our own containers.
void DockerEngine::watch_deaths(const std::string& label, std::int64_t since,
                                const std::function<void(const std::string& id)>& died,
                                const std::function<bool()>& keep_going) {
  const std::string filters = boost::json::serialize(
      boost::json::object{{"type", boost::json::array{"container"}},
                          {"event", boost::json::array{"die"}},
                          {"label", boost::json::array{boost::json::string_view(label)}}});
  std::string pending;
  const std::function<void(std::string_view)> on_data = [&](std::string_view bytes) {
    pending.append(bytes);
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      boost::system::error_code ec;
      const boost::json::value event = boost::json::parse(pending.substr(0, end), ec);
      pending.erase(0, end + 1);
      const boost::json::object* o = ec ? nullptr : event.if_object();
      const boost::json::value* actor = o != nullptr ? o->if_contains("Actor") : nullptr;
      const boost::json::value* id = actor != nullptr && actor->is_object()
                                         ? actor->as_object().if_contains("ID")
                                         : (o != nullptr ? o->if_contains("id") : nullptr);
      if (id != nullptr && id->is_string()) {
        died(std::string(id->as_string()));
      }
    }
  };
  const Reply r = call("GET",
                       "/events?filters=" + url_encode(filters) +
                           (since > 0 ? "&since=" + std::to_string(since) : std::string()),
                       {}, 0, {}, &on_data, &keep_going);
  if (r.status != 200) {
    throw EngineError(r.status, "cannot watch the engine's events: " + pending.substr(0, 512));
  }
}

std::string DockerEngine::logs(const std::string& id, int lines) {
  Reply r =
      call("GET", fmt::format("/containers/{}/logs?stdout=true&stderr=true&tail={}", id, lines));
  expect(r, {200}, "read the logs of container " + id);
  return demultiplex_logs(r.body);
}

bool DockerEngine::has_image(const std::string& image) {
  Reply r = call("GET", "/images/" + url_encode(image) + "/json");
  if (r.status == 404) {
    return false;
  }
  expect(r, {200}, "inspect image " + image);
  return true;
}

// POST /images/create streams one JSON object per line: per-layer status and progress, and on
// failure an {"error": ...} object, still with HTTP 200. Layers are counted from the ids seen.
void DockerEngine::pull(const std::string& image, const std::string& registry_auth,
                        const std::function<void(const PullProgress&)>& progress,
                        const std::function<bool()>& keep_going) {
  std::string name = image;
  std::string tag = "latest";
  const std::size_t colon = image.rfind(':');
  if (colon != std::string::npos && image.find('/', colon) == std::string::npos) {
    name = image.substr(0, colon);
    tag = image.substr(colon + 1);
  }
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> layers;  // id -> bytes, total
  std::map<std::string, bool> done;
  std::string pending;
  std::string error;
  PullProgress state;
  std::string raw;  // the start of the body, for an error answer
  const std::function<void(std::string_view)> on_data = [&](std::string_view data) {
    if (raw.size() < kMaxErrorBody) {
      raw.append(data.substr(0, kMaxErrorBody - raw.size()));
    }
    pending.append(data);
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      boost::system::error_code ec;
      json::value v = json::parse(std::string_view(pending).substr(0, nl), ec);
      if (ec || !v.is_object()) {
        continue;
      }
      const json::object& o = v.as_object();
      if (o.contains("error")) {
        error = string_or_empty(o, "error");
        continue;
      }
      const std::string id = string_or_empty(o, "id");
      const std::string status = string_or_empty(o, "status");
      if (id.empty() || id == tag) {
        continue;
      }
      if (const json::value* d = o.if_contains("progressDetail");
          d && d->is_object() && status == "Downloading") {
        const json::object& detail = d->as_object();
        auto number = [&](const char* key) {
          const json::value* n = detail.if_contains(key);
          return n != nullptr && n->is_number() ? n->to_number<std::uint64_t>() : 0;
        };
        layers[id] = {number("current"), number("total")};
      } else {
        layers.try_emplace(id, 0, 0);
      }
      if (status == "Pull complete" || status == "Already exists") {
        done[id] = true;
      }
      state = PullProgress{static_cast<int>(layers.size()), static_cast<int>(done.size()), 0, 0};
      for (const auto& [layer, bytes] : layers) {
        state.bytes += bytes.first;
        state.total_bytes += bytes.second;
      }
      progress(state);
    }
  };
  const std::string header = registry_auth.empty() ? "" : "X-Registry-Auth: " + registry_auth;
  Reply r = call("POST", "/images/create?fromImage=" + url_encode(name) + "&tag=" + url_encode(tag),
                 {}, 15 * 60 * 1000, header, &on_data, &keep_going);
  if (!keep_going()) {
    throw EngineError(0, fmt::format("the pull of {} was stopped", image));
  }
  if (r.status != 200) {
    r.body = raw;
    expect(r, {200}, "pull " + image);
  }
  if (!error.empty()) {
    throw EngineError(404, fmt::format("cannot pull {}: {}", image, error));
  }
}

}  // namespace handoff::containers
