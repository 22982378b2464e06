#include "control/registry/registry_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/protocol/canary_answers.hpp"
#include "control/registry/service_tls.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// How a member's health reads in status and metrics.
std::string_view health_name(proxy::Ejection e) {
  switch (e) {
    case proxy::Ejection::none:
      return "healthy";
    case proxy::Ejection::connect_error:
      return "ejected: connect error";
    case proxy::Ejection::server_errors:
      return "ejected: burst of 5xx";
    case proxy::Ejection::failed_checks:
      return "ejected: failed health checks";
    case proxy::Ejection::container_died:
      return "ejected: container died";
  }
  return "unknown";
}

// How the service serves, in a word and why: "paused", "no upstream", "down" (every member
// ejected: requests go to the least bad one and likely fail), "degraded" (some ejected) or
// "serving".
std::string serving_state(const proxy::Service& service) {
  if (service.paused()) {
    return "paused";
  }
  const auto set = service.upstreams();
  if (!set || set->members().empty()) {
    return "no upstream";
  }
  const auto& members = set->members();
  const auto ejected = static_cast<std::size_t>(std::ranges::count_if(
      members, [](const auto& m) { return m->ejection() != proxy::Ejection::none; }));
  if (ejected == members.size()) {
    return members.size() == 1
               ? fmt::format("down: its member is {}", health_name(members.front()->ejection()))
               : fmt::format("down: all {} members ejected", members.size());
  }
  if (ejected > 0) {
    return fmt::format("degraded: {} of {} members ejected", ejected, members.size());
  }
  return "serving";
}

json::array members_status(const std::shared_ptr<const proxy::UpstreamSet>& set,
                           const std::vector<ContainerRef>& containers) {
  json::array out;
  if (!set) {
    return out;
  }
  for (std::size_t i = 0; i < set->members().size(); ++i) {
    const proxy::Upstream& m = *set->members()[i];
    out.push_back(json::object{
        {"address", m.address()},
        {"container", i < containers.size() ? json::value(containers[i].name) : nullptr},
        {"generation", m.generation()},
        {"in_flight", m.in_flight()},
        {"health", health_name(m.ejection())},
        {"queued", m.connection_cap().queued()},
        {"connect_errors", m.connect_errors()}});
  }
  return out;
}

// The canary beside the serving set: its members, share, policy and answers so far.
json::value canary_status(const proxy::Service& service,
                          const std::vector<ContainerRef>& containers, const CanaryPolicy& policy,
                          std::int64_t started_unix_ms) {
  const auto canary = service.canary();
  if (!canary) {
    return nullptr;
  }
  const CanaryAnswers answers = canary_answers(*canary->set);
  return json::object{{"upstream", canary->set->addresses()},
                      {"members", members_status(canary->set, containers)},
                      {"percent", static_cast<double>(canary->share) / 100.0},
                      {"max_error_rate", policy.max_error_rate},
                      {"window_s", policy.window_s},
                      {"min_requests", policy.min_requests},
                      {"bake_s", policy.bake_s},
                      {"started_unix_ms", started_unix_ms},
                      {"requests", answers.requests},
                      {"errors", answers.errors}};
}

}  // namespace

json::object RegistryReport::status() const {
  json::array services;
  for (const auto& [name, r] : records_) {
    auto set = r.service->upstreams();
    auto counters = r.service->counters();
    std::uint64_t requests = 0;
    for (auto n : counters.responses) {
      requests += n;
    }
    json::array draining;
    for (const auto& d : r.books.draining) {
      draining.push_back(json::object{{"upstream", d->address()},
                                      {"generation", d->generation()},
                                      {"in_flight", d->in_flight()}});
    }
    json::array hosts;
    for (const auto& h : r.route.hosts) {
      hosts.emplace_back(h);
    }
    json::value container = nullptr;  // the first member's: one line in `status`
    if (!r.serving.containers.empty()) {
      const ContainerRef& first = r.serving.containers.front();
      container = json::object{{"id", first.id.substr(0, 12)},
                               {"name", first.name},
                               {"image", first.image},
                               {"replicas", r.serving.containers.size()},
                               {"problem", r.serving.container_problem}};
    }
    services.push_back(json::object{
        {"name", name},
        {"container", std::move(container)},
        {"hosts", std::move(hosts)},
        {"strip_prefix", r.route.strip_prefix},
        {"max_conns_per_member", r.route.max_conns
                                     ? json::value(static_cast<std::uint64_t>(*r.route.max_conns))
                                     : json::value(nullptr)},
        {"upstream", set ? json::value(set->addresses()) : json::value(nullptr)},
        {"members", members_status(set, r.serving.containers)},
        {"canary",
         canary_status(*r.service, r.canary.containers, r.canary.policy, r.canary.started_unix_ms)},
        {"previous", proxy::join_addresses(r.serving.previous)},
        {"generation", r.serving.generation},
        {"in_flight", set ? set->in_flight() : 0},
        {"draining", std::move(draining)},
        {"paused", r.service->paused()},
        {"state", serving_state(*r.service)},
        {"busy", claimed_.count(name) != 0},
        {"requests", requests},
        {"errors", counters.responses[5]},
        {"connect_errors", counters.connect_errors},
        {"tls", tls_status(r.route.tls)},
    });
  }
  const double uptime = std::chrono::duration<double>(Clock::now() - started_).count();
  return json::object{{"uptime_seconds", static_cast<std::int64_t>(uptime)},
                      {"connections", server_.connections()},
                      {"services", std::move(services)}};
}

namespace {

// Starts a metric family: its HELP and TYPE lines.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string RegistryReport::metrics() const {
  std::string out;
  append_request_metrics(out);
  append_upstream_metrics(out);
  append_workflow_metrics(out);
  return out;
}

// Requests by service: answers by status class, durations, unfinished ones.
void RegistryReport::append_request_metrics(std::string& out) const {
  family(out, "handoff_requests_total", "counter",
         "Requests answered, by service and status class.");
  for (const auto& [name, r] : records_) {
    auto c = r.service->counters();
    for (std::size_t cls = 1; cls < c.responses.size(); ++cls) {
      out += fmt::format("handoff_requests_total{{service=\"{}\",code=\"{}xx\"}} {}\n", name, cls,
                         c.responses[cls]);
    }
  }
  family(out, "handoff_request_duration_seconds", "histogram",
         "Time from a request's head to the end of its answer, by service.");
  for (const auto& [name, r] : records_) {
    const auto c = r.service->counters();
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < c.duration_buckets.size(); ++b) {
      cumulative += c.duration_buckets[b];
      const std::string le = b < proxy::kDurationBuckets.size()
                                 ? fmt::format("{}", proxy::kDurationBuckets[b])
                                 : std::string("+Inf");
      out += fmt::format("handoff_request_duration_seconds_bucket{{service=\"{}\",le=\"{}\"}} {}\n",
                         name, le, cumulative);
    }
    out += fmt::format("handoff_request_duration_seconds_sum{{service=\"{}\"}} {:.6f}\n", name,
                       c.duration_sum);
    out += fmt::format("handoff_request_duration_seconds_count{{service=\"{}\"}} {}\n", name,
                       cumulative);
  }
  family(out, "handoff_requests_unfinished_total", "counter",
         "Requests that ended without a whole answer: cut at a drain or shutdown timeout, or "
         "otherwise (client gone, upstream cut mid-body).");
  for (const auto& [name, r] : records_) {
    const auto c = r.service->counters();
    out += fmt::format(
        "handoff_requests_unfinished_total{{service=\"{}\",reason=\"drain_timeout\"}} {}\n", name,
        c.closed_at_drain);
    out += fmt::format("handoff_requests_unfinished_total{{service=\"{}\",reason=\"other\"}} {}\n",
                       name, c.unfinished);
  }
  family(out, "handoff_unrouted_requests_total", "counter",
         "Requests for a Host no service claims (404).");
  out += fmt::format("handoff_unrouted_requests_total {}\n", server_.unrouted());
  family(out, "handoff_rejected_requests_total", "counter",
         "Requests refused before routing: malformed, or over a limit (400, 408, 413, 431, 501, "
         "505).");
  out += fmt::format("handoff_rejected_requests_total {}\n", server_.rejected());
  family(out, "handoff_tls_handshake_failures_total", "counter",
         "TLS connections closed because the handshake failed or timed out.");
  out += fmt::format("handoff_tls_handshake_failures_total {}\n", server_.tls_failures());
  family(out, "handoff_http2_calmed_connections_total", "counter",
         "HTTP/2 connections ended with GOAWAY ENHANCE_YOUR_CALM (header blocks over the limit, "
         "again and again).");
  out += fmt::format("handoff_http2_calmed_connections_total {}\n", server_.calmed());
}

// Upstreams: requests in flight per generation, failed connections, open client connections.
void RegistryReport::append_upstream_metrics(std::string& out) const {
  family(out, "handoff_in_flight", "gauge",
         "Requests in flight, by service, upstream generation and member.");
  for (const auto& [name, r] : records_) {
    auto emit = [&out, &service = name](const proxy::Upstream& u, std::string_view set) {
      out += fmt::format(
          "handoff_in_flight{{service=\"{}\",generation=\"{}\",upstream=\"{}\",set=\"{}\"}} "
          "{}\n",
          service, u.generation(), u.address(), set, u.in_flight());
    };
    if (auto set = r.service->upstreams()) {
      for (const auto& m : set->members()) {
        emit(*m, "serving");
      }
    }
    if (auto canary = r.service->canary()) {
      for (const auto& m : canary->set->members()) {
        emit(*m, "canary");
      }
    }
    for (const auto& d : r.books.draining) {
      emit(*d, "draining");
    }
  }
  family(out, "handoff_upstream_connect_errors_total", "counter",
         "Requests that found no upstream member to connect to (after a retry on another).");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_upstream_connect_errors_total{{service=\"{}\"}} {}\n", name,
                       r.service->counters().connect_errors);
  }
  append_member_metrics(out);
  append_canary_metrics(out);
  family(out, "handoff_connections", "gauge", "Open client connections.");
  out += fmt::format("handoff_connections {}\n", server_.connections());
}

// The serving members: health and failed connects each.
void RegistryReport::append_member_metrics(std::string& out) const {
  family(out, "handoff_upstream_healthy", "gauge",
         "1 when a serving member takes requests, 0 when it is ejected.");
  for (const auto& [name, r] : records_) {
    if (auto set = r.service->upstreams()) {
      for (const auto& m : set->members()) {
        out += fmt::format("handoff_upstream_healthy{{service=\"{}\",upstream=\"{}\"}} {}\n", name,
                           m->address(), m->ejected() ? 0 : 1);
      }
    }
  }
  family(out, "handoff_upstream_member_connect_errors_total", "counter",
         "Failed connects to each serving member (a request may then be retried on another).");
  for (const auto& [name, r] : records_) {
    if (auto set = r.service->upstreams()) {
      for (const auto& m : set->members()) {
        out += fmt::format(
            "handoff_upstream_member_connect_errors_total{{service=\"{}\",upstream=\"{}\"}} {}\n",
            name, m->address(), m->connect_errors());
      }
    }
  }
  append_queue_metrics(out);
}

// Members capped by --max-conns-per-member: requests waiting for a connection, and those
// refused (queue full, or their queue timeout passed).
void RegistryReport::append_queue_metrics(std::string& out) const {
  const auto each_capped = [this, &out](std::string_view metric, auto value) {
    for (const auto& [name, r] : records_) {
      if (auto set = r.service->upstreams()) {
        for (const auto& m : set->members()) {
          if (m->connection_cap().limited()) {
            out += fmt::format("{}{{service=\"{}\",upstream=\"{}\"}} {}\n", metric, name,
                               m->address(), value(m->connection_cap()));
          }
        }
      }
    }
  };
  family(out, "handoff_upstream_queued", "gauge",
         "Requests waiting for a connection to a member at its --max-conns-per-member.");
  each_capped("handoff_upstream_queued", [](const proxy::ConnectionCap& c) { return c.queued(); });
  family(out, "handoff_upstream_queue_refused_total", "counter",
         "Requests answered 503 for want of a connection to a capped member.");
  each_capped("handoff_upstream_queue_refused_total",
              [](const proxy::ConnectionCap& c) { return c.refused(); });
}

// Canaries: the share of clients each takes, and what it answered.
void RegistryReport::append_canary_metrics(std::string& out) const {
  family(out, "handoff_canary_percent", "gauge",
         "Share of clients a service's canary takes (absent when none runs).");
  for (const auto& [name, r] : records_) {
    if (auto canary = r.service->canary()) {
      out += fmt::format("handoff_canary_percent{{service=\"{}\"}} {}\n", name,
                         static_cast<double>(canary->share) / 100.0);
    }
  }
  family(out, "handoff_canary_requests_total", "counter",
         "Requests a service's canaries answered, by status class (also in "
         "handoff_requests_total).");
  for (const auto& [name, r] : records_) {
    const auto c = r.service->counters();
    for (std::size_t cls = 1; cls < c.canary_responses.size(); ++cls) {
      out += fmt::format("handoff_canary_requests_total{{service=\"{}\",code=\"{}xx\"}} {}\n", name,
                         cls, c.canary_responses[cls]);
    }
  }
}

// Swaps and drains: how long the switch and the drain took.
void RegistryReport::append_workflow_metrics(std::string& out) const {
  family(out, "handoff_swap_duration_seconds", "summary", "Time the upstream switch itself took.");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_swap_duration_seconds_sum{{service=\"{}\"}} {:.9f}\n", name,
                       r.books.swap_seconds);
    out += fmt::format("handoff_swap_duration_seconds_count{{service=\"{}\"}} {}\n", name,
                       r.books.swaps);
  }
  family(out, "handoff_drain_duration_seconds", "summary",
         "Time from a swap until the old upstream was idle.");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_drain_duration_seconds_sum{{service=\"{}\"}} {:.6f}\n", name,
                       r.books.drain_seconds);
    out += fmt::format("handoff_drain_duration_seconds_count{{service=\"{}\"}} {}\n", name,
                       r.books.drains);
  }
}

}  // namespace handoff::control
