#include "proxy/request_front.hpp"

#include <fmt/format.h>

#include "proxy/access_log.hpp"
#include "proxy/http/forward_headers.hpp"
#include "proxy/request_books.hpp"
#include "proxy/routing/pause_wait.hpp"
#include "proxy/routing/service.hpp"
#include "proxy/upstream/upstream_exchange.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;

RequestFront::RequestFront(Worker& worker, SessionHandle& handle, bool secure)
    : worker_(worker), watch_(handle), secure_(secure) {}

RequestFront::~RequestFront() = default;

void RequestFront::open_books() {
  started_ = Clock::now();  // for the duration histogram and the access log
  open_ = true;
}

// Serves a request to its end in one coroutine frame (with the exchange's), as the hot path
// should: what is decided without waiting (`admit`) is a plain call, and the refusals are
// answered off the path (`answer_refusal`). The member is on the request's books only from the
// exchange on: an answer the proxy gives before is not the member's.
asio::awaitable<Outcome> RequestFront::serve(MessageHead& request, ExchangeSpace space) {
  if (const Admission admission = admit(request); admission != Admission::admitted) {
    co_return co_await answer_refusal(admission, request);
  }
  if (service_->paused()) {  // no co_await in a short-circuit condition (GCC 12)
    const bool resumed = co_await wait_while_paused(worker_, *service_, watch_);
    if (!resumed) {
      co_return co_await refuse_paused();
    }
  }
  placement_.request = &request;
  flight_ = service_->acquire(worker_.index(), nullptr, &placement_);
  // The slot is given back when the exchange ends, however it ends: a keep-alive connection
  // must not hold one while it waits for its next request.
  const SlotRelease release{*this};
  if (!flight_) {
    co_return co_await answer_unread(503, "handoff: the service has no upstream", {}, true);
  }
  space.upstream_head.clear();
  const std::string_view id = build_upstream_request(
      request, {client_ip_, worker_.next_request_id(), secure_}, space.upstream_head);
  if (worker_.config().access_log) {
    space.request_id = id;
    request_id_ = space.request_id;
  }
  if (const std::optional<Refusal> refused = take_first_body()) {
    co_return co_await reply(refused->status, refused->text, true);
  }
  upstream_ = flight_.get();
  UpstreamExchange exchange(worker_, watch_, *this, request, space.upstream_head, space.response,
                            space.upstream_bytes);
  const Outcome outcome = co_await exchange.run(*upstream_);
  settle();  // while the member is still held by `flight_`
  co_return outcome;
}

// Whether the request goes on to its service, decided without waiting: a body announced over
// --max-body is refused before routing, an ACME challenge answered, a Host no service claims
// refused, a plain request to a service that wants HTTPS redirected. When admitted, the
// service is the request's and a prefix it claims with --strip-prefix is gone from the target
// (an empty rest is forwarded as "/").
RequestFront::Admission RequestFront::admit(MessageHead& request) {
  if (body_announced_over_limit(request)) {
    return Admission::body_over_limit;
  }
  if (acme_answer(request)) {
    return Admission::acme_challenge;
  }
  const RouteMatch route =
      worker_.router().table_for(worker_.index()).match(request.host, request.target);
  if (route.service == nullptr) {
    return Admission::unrouted;
  }
  service_ = route.service->shared_from_this();
  if (!secure_ && service_->redirect_https() && !request.host.empty()) {
    return Admission::to_https;
  }
  request.target.remove_prefix(route.strip);
  return Admission::admitted;
}

// Callers of the answers below build their text in a named variable first: GCC 12 destroys
// some temporaries in a co_await expression twice (a conditional between a literal and a
// std::string).
asio::awaitable<Outcome> RequestFront::answer_refusal(Admission admission,
                                                      const MessageHead& request) {
  switch (admission) {
    case Admission::body_over_limit:
      worker_.count_refused(false);
      co_return co_await answer_unread(413, "handoff: request body over the limit", {}, true);
    case Admission::acme_challenge: {
      const std::string key = acme_answer(request).value_or("");
      co_return co_await answer_unread(200, key, {}, false);
    }
    case Admission::unrouted:
      worker_.count_refused(true);
      co_return co_await answer_unread(404, "handoff: no service for this host", {}, true);
    case Admission::to_https:
    case Admission::admitted:
      break;
  }
  co_return co_await redirect_to_https(request);
}

RequestFront::SlotRelease::~SlotRelease() {
  front.upstream_ = nullptr;
  front.flight_ = InFlight{};
}

// A service that wants HTTPS answers a plain request with a redirect to the same URL over TLS:
// 301 for GET and HEAD, 308 otherwise (which keeps the method and body). The port is the first
// TLS listener's, left out when it is 443.
asio::awaitable<Outcome> RequestFront::redirect_to_https(const MessageHead& request) {
  const bool safe = request.method == "GET" || request.method == "HEAD";
  const std::string location =
      https_location_field(request.host, request.target, worker_.config().https_port);
  const std::string text = "handoff: this service is served over HTTPS";
  co_return co_await answer_unread(safe ? 301 : 308, text, location, false);
}

// The service stayed paused past its max pause: 503 with the pause's message and Retry-After.
asio::awaitable<Outcome> RequestFront::refuse_paused() {
  const auto notice = service_->pause_notice();
  const std::string text =
      notice->message.empty() ? std::string("handoff: the service is paused") : notice->message;
  const std::string retry = fmt::format("Retry-After: {}", notice->retry_after.count());
  co_return co_await answer_unread(503, text, retry, true);
}

// An ACME HTTP-01 validation request on a plain listener, for a token handoff's own ACME
// client published: answered before routing, whatever the Host (RFC 8555 §8.3). Other
// requests under the path go to the service as usual (an app may run its own ACME client).
std::optional<std::string> RequestFront::acme_answer(const MessageHead& request) const {
  if (secure_ || request.method != "GET") {
    return std::nullopt;
  }
  return worker_.acme_challenges().answer(request.target);
}

// A body announced over --max-body is refused before routing, whatever the protocol; one that
// grows over it on the way is refused by the client side as it reads.
bool RequestFront::body_announced_over_limit(const MessageHead& request) const {
  const std::uint64_t limit = worker_.config().max_body_bytes;
  return limit != 0 && request.body == BodyKind::length && request.content_length > limit;
}

Upstream* RequestFront::rebind() {
  if (!flight_ || !service_->rebind(worker_.index(), flight_, &placement_)) {
    return nullptr;
  }
  upstream_ = flight_.get();
  return upstream_;
}

void RequestFront::connect_failed() {
  service_->count_connect_error(worker_.index());
  connect_failed_ = true;
}

std::string_view RequestFront::hsts_field() {
  const std::uint32_t seconds = service_ ? service_->hsts_seconds() : 0;
  if (!secure_ || seconds == 0) {
    return {};
  }
  const auto end = fmt::format_to_n(hsts_.data(), hsts_.size(),
                                    "Strict-Transport-Security: max-age={}", seconds);
  return {hsts_.data(), end.size};
}

void RequestFront::finish(std::string_view error) {
  if (!open_) {
    return;
  }
  open_ = false;
  const Clock::duration took =
      count_request(service_.get(), upstream_, worker_.index(), started_,
                    {status_, !cut_.empty(), watch_.killed, client_left_, connect_failed_,
                     answered_by_proxy_, placement_.canary});
  if (!worker_.config().access_log) {
    return;
  }
  write_access_log(AccessRecord{service_ ? std::string_view(service_->name()) : "",
                                upstream_ ? std::string_view(upstream_->address()) : "", client_ip_,
                                line_.method, line_.target, line_.host, request_id_, status_,
                                response_bytes_, took, error, set_name(placement_)});
}

void RequestFront::settle() {
  if (!open_) {
    return;
  }
  if (status_ != 0) {
    finish(cut_);
  } else {
    finish(watch_.killed ? watch_.kill_reason : "the client went away");
  }
}

void RequestFront::clear_books() {
  line_ = {};
  status_ = 0;
  response_bytes_ = 0;
  cut_ = {};
  answered_by_proxy_ = client_left_ = false;
  service_.reset();
  upstream_ = nullptr;
  flight_ = InFlight{};
  request_id_ = {};
  open_ = connect_failed_ = false;
  placement_ = {};
}

}  // namespace handoff::proxy
