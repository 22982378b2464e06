#include "proxy/routing/pause_wait.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/nothrow.hpp"
#include "proxy/routing/service.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;

// Polled every 5 ms rather than woken: a resume is one atomic store the data plane never waits
// on, and a held request is rare.
asio::awaitable<bool> wait_while_paused(Worker& worker, Service& service,
                                        const SessionHandle& request) {
  const auto give_up = Clock::now() + service.max_pause();
  asio::steady_timer timer(worker.io());
  while (service.paused()) {
    if (Clock::now() >= give_up || worker.stopping() || request.killed) {
      co_return false;
    }
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(nothrow);
  }
  co_return true;
}

}  // namespace handoff::proxy
