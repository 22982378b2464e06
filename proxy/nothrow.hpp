#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace handoff {

/// The completion token of every coroutine wait in handoff: the error comes back with the
/// result (`auto [ec, n] = co_await ...`) instead of as an exception, because a peer that goes
/// away is an outcome, not a failure.
constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace handoff
