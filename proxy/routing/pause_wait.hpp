#pragma once

#include <boost/asio/awaitable.hpp>

namespace handoff::proxy {

class Service;
class Worker;
struct SessionHandle;

/// Holds a request while its service is paused, whatever protocol carries it. False when the
/// pause outlasted the service's max pause, the proxy is closing, or `request` was closed: the
/// request must then be refused.
boost::asio::awaitable<bool> wait_while_paused(Worker& worker, Service& service,
                                               const SessionHandle& request);

}  // namespace handoff::proxy
