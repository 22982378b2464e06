#include "control/upgrade/predecessor_retirement.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "containers/docker_engine.hpp"

namespace handoff::control {

PredecessorRetirement::PredecessorRetirement(std::string old_id, std::string own_id)
    : old_id_(std::move(old_id)), own_id_(std::move(own_id)) {
  thread_ = std::thread([this] { run(); });
}

PredecessorRetirement::~PredecessorRetirement() {
  stop_ = true;
  thread_.join();
}

void PredecessorRetirement::run() {
  try {
    containers::DockerEngine engine;
    const boost::json::object old = engine.inspect_raw(old_id_);
    std::string name;
    if (const auto* n = old.if_contains("Name"); n != nullptr && n->is_string()) {
      name = std::string(n->as_string());
    }
    if (!name.empty() && name.front() == '/') {
      name.erase(0, 1);
    }
    if (!engine.wait_stopped(old_id_, [this] { return !stop_.load(); })) {
      return;  // handoff stops first; the next upgrade or an operator tidies up
    }
    engine.remove_keeping_volumes(old_id_);
    if (!name.empty()) {
      engine.rename(own_id_, name);
    }
    fmt::print(stderr, "handoff: the old front container is removed; this one is now {}\n", name);
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: warning: retiring the old front container: {}\n", e.what());
  }
}

}  // namespace handoff::control
