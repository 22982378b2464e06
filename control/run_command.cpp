#include "control/run_command.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <stdexcept>

#include "containers/docker_engine.hpp"
#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "control/control_socket.hpp"
#include "control/duration.hpp"
#include "control/flags.hpp"
#include "control/metrics_listener.hpp"
#include "control/service_registry.hpp"
#include "control/state_store.hpp"
#include "control/usable_cores.hpp"
#include "proxy/address.hpp"
#include "proxy/server.hpp"
#include "proxy/whole_number.hpp"

namespace handoff::control {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kUsage =
    "usage: handoff run [--listen HOST:PORT]... [--upstream HOST:PORT] [options]\n"
    "\n"
    "Runs the proxy. Services are added and switched through the control socket (see\n"
    "handoff --help); --upstream creates the service `default`, which gets every request\n"
    "whose Host no other service claims. Services are saved in --state-dir and restored\n"
    "on start.\n"
    "\n"
    "SIGTERM or SIGINT stops accepting, lets requests in flight finish (up to\n"
    "--shutdown-timeout) and exits 0.\n"
    "\n"
    "options:\n";

std::size_t parse_count(std::string_view text) {
  const std::optional<std::size_t> n = proxy::parse_whole_number<std::size_t>(text);
  if (!n) {
    throw std::invalid_argument(fmt::format("'{}' is not a whole number", text));
  }
  return *n;
}

// A byte count with an optional k, m or g suffix (powers of 1024).
std::uint64_t parse_size(std::string_view text) {
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = 1024;
        break;
      case 'm':
      case 'M':
        scale = 1024 * 1024;
        break;
      case 'g':
      case 'G':
        scale = 1024 * 1024 * 1024;
        break;
      default:
        break;
    }
  }
  const std::string_view digits = scale == 1 ? text : text.substr(0, text.size() - 1);
  return parse_count(digits) * scale;
}

// Many idle keep-alive clients need many descriptors; use all the hard limit allows.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int run_command(const std::vector<std::string_view>& args) {
  proxy::ProxyConfig config;
  config.threads = usable_cores();
  std::vector<std::string> listen;
  std::string upstream;
  std::string control_flag;
  std::string control_group;
  std::string state_dir = "/var/lib/handoff";
  std::string metrics_listen;
  bool ignore_state = false;
  bool help = false;
  auto millis = [](proxy::Millis& field) {
    return [&field](std::string_view v) { field = parse_duration(v); };
  };
  const std::vector<Flag> flags = {
      {"listen", "HOST:PORT", "address to accept clients on; repeatable (default 0.0.0.0:80)",
       [&](std::string_view v) { listen.emplace_back(v); }},
      {"upstream", "HOST:PORT", "upstream of the service `default`",
       [&](std::string_view v) { upstream = v; }},
      {"threads", "N", "worker threads, each with its own acceptor (default: the usable cores)",
       [&](std::string_view v) { config.threads = static_cast<unsigned>(parse_count(v)); }},
      {"client-header-timeout", "DUR", "receive a request head within (default 10s)",
       millis(config.client_header_timeout)},
      {"client-idle-timeout", "DUR", "keep-alive wait for the next request (default 60s)",
       millis(config.client_idle_timeout)},
      {"client-io-timeout", "DUR", "each body read/write to a client (default 60s)",
       millis(config.client_io_timeout)},
      {"upstream-connect-timeout", "DUR", "connect to an upstream within (default 5s)",
       millis(config.upstream_connect_timeout)},
      {"upstream-response-timeout", "DUR", "each wait for upstream bytes; then 504 (default 60s)",
       millis(config.upstream_response_timeout)},
      {"upstream-idle-timeout", "DUR", "close pooled upstream connections idle this long (30s)",
       millis(config.upstream_idle_timeout)},
      {"tunnel-idle-timeout", "DUR", "close an upgraded connection idle this long (default 1h)",
       millis(config.tunnel_idle_timeout)},
      {"shutdown-timeout", "DUR", "on SIGTERM, wait this long for requests in flight (30s)",
       millis(config.shutdown_timeout)},
      {"max-header-bytes", "N", "request head size limit; 431 beyond (default 16384)",
       [&](std::string_view v) { config.max_header_bytes = parse_count(v); }},
      {"max-body", "SIZE", "request body limit, e.g. 10m; 413 beyond (default: none)",
       [&](std::string_view v) { config.max_body_bytes = parse_size(v); }},
      {"max-connections", "N", "client connections at once; 503 beyond (default 65536)",
       [&](std::string_view v) { config.max_connections = parse_count(v); }},
      {"upstream-max-idle", "N", "idle pooled connections per upstream and thread (default 256)",
       [&](std::string_view v) { config.upstream_max_idle = parse_count(v); }},
      {"no-access-log", "", "do not write the JSON access log to stdout",
       [&](std::string_view) { config.access_log = false; }},
      {"control", "PATH", "control socket (default $HANDOFF_CONTROL or /run/handoff/control.sock)",
       [&](std::string_view v) { control_flag = v; }},
      {"control-group", "NAME", "let this group use the control socket (mode 0660)",
       [&](std::string_view v) { control_group = v; }},
      {"state-dir", "DIR", "where services are saved (default /var/lib/handoff)",
       [&](std::string_view v) { state_dir = v; }},
      {"metrics-listen", "HOST:PORT", "also serve GET /metrics over TCP here (for Prometheus)",
       [&](std::string_view v) { metrics_listen = v; }},
      {"ignore-state", "", "start even if the saved state cannot be read (it is replaced)",
       [&](std::string_view) { ignore_state = true; }},
      {"help", "", "show this help", [&](std::string_view) { help = true; }},
  };

  std::unique_ptr<proxy::Server> server;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ServiceRegistry> registry;
  std::unique_ptr<ControlApi> api;
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<MetricsListener> metrics;
  try {
    auto extra = parse_flags(args, flags);
    if (help) {
      fmt::print("{}{}", kUsage, flags_help(flags));
      return 0;
    }
    if (!extra.empty()) {
      throw std::invalid_argument(fmt::format("unexpected argument '{}'", extra.front()));
    }
    if (config.max_header_bytes < 1024) {
      throw std::invalid_argument("--max-header-bytes must be at least 1024");
    }
    if (listen.empty()) {
      listen.emplace_back("0.0.0.0:80");
    }
    for (const std::string& l : listen) {
      for (const auto& ep : proxy::resolve_address(l)) {
        config.listen.push_back(ep);
      }
    }
    raise_descriptor_limit();
    std::signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    store = std::make_unique<StateStore>(state_dir);
    bool state_loaded = false;  // a state file existed and was read
    ProxyState saved;
    try {
      const bool exists = store->exists();
      saved = store->load();
      state_loaded = exists;
    } catch (const std::exception& e) {
      if (!ignore_state) {
        throw std::runtime_error(fmt::format(
            "{}; refusing to start without the saved routes (fix the file, or start with "
            "--ignore-state to discard it)",
            e.what()));
      }
      fmt::print(stderr, "handoff: warning: {}; starting without it (--ignore-state)\n", e.what());
    }
    if (!upstream.empty()) {
      proxy::resolve_address(upstream);  // a bad --upstream is a start-up error
    }
    server = std::make_unique<proxy::Server>(config);
    registry = std::make_unique<ServiceRegistry>(*server, *store);
    registry->restore(saved);
    if (!upstream.empty()) {
      if (state_loaded) {
        // Once a state file exists it wins: after a deploy the saved upstream is the live one,
        // and a `default` removed through the API stays removed. The flag seeds a first start.
        fmt::print(stderr, "handoff: services restored from {} (--upstream {} not used)\n",
                   store->file().string(), upstream);
      } else {
        registry->add("default", {}, upstream);
      }
    }
    EngineFactory engines = [] { return std::make_unique<containers::DockerEngine>(); };
    check_restored_containers(*registry, engines);
    api = std::make_unique<ControlApi>(*registry, *server, engines);
    control =
        std::make_unique<ControlServer>(control_socket_path(control_flag), control_group, *api);
    if (!metrics_listen.empty()) {
      metrics = std::make_unique<MetricsListener>(proxy::resolve_address(metrics_listen).front(),
                                                  [&registry] { return registry->metrics(); });
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: {}\n", e.what());
    return 2;
  }

  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGTERM, SIGINT);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code&, int sig) { received = sig; });
  server->start();
  control->start();
  for (const auto& ep : server->local_endpoints()) {
    fmt::print(stderr, "handoff: listening on {} ({} thread{})\n", proxy::format_endpoint(ep),
               config.threads, config.threads == 1 ? "" : "s");
  }
  const boost::json::object status = registry->status();
  for (const auto& s : status.at("services").as_array()) {
    const auto& o = s.as_object();
    fmt::print(stderr, "handoff: service {} -> {}\n", o.at("name").as_string().c_str(),
               o.at("upstream").is_string() ? o.at("upstream").as_string().c_str() : "(none)");
  }
  fmt::print(stderr, "handoff: control socket {}\n", control->path());
  if (metrics) {
    metrics->start();
    fmt::print(stderr, "handoff: metrics on http://{}/metrics\n",
               proxy::format_endpoint(metrics->local_endpoint()));
  }
  signals_io.run();
  fmt::print(stderr, "handoff: {} received; finishing {} open connection(s), up to {}\n",
             received == SIGTERM ? "SIGTERM" : "SIGINT", server->connections(),
             format_duration(config.shutdown_timeout));
  if (const int running = control->running_operations(); running > 0) {
    fmt::print(stderr,
               "handoff: waiting up to {} for {} running workflow(s) (deploy, swap or rollback) "
               "to end\n",
               format_duration(config.shutdown_timeout), running);
  }
  control->stop(config.shutdown_timeout);
  server->shutdown();
  fmt::print(stderr, "handoff: stopped\n");
  return 0;
}

}  // namespace handoff::control
