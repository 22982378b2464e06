// Fuzzes the control API's request handling: methods, paths and JSON bodies from an untrusted
// client. The input is "METHOD PATH\n" then the body. Long operations are prepared but not run.
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "containers/engine.hpp"
#include "control/api/control_api.hpp"
#include "control/registry/service_registry.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/server.hpp"

using namespace handoff;

namespace {

struct World {
  std::unique_ptr<proxy::Server> server;
  std::unique_ptr<control::StateStore> store;
  std::unique_ptr<control::ServiceRegistry> registry;
  std::unique_ptr<control::ControlApi> api;

  World() {
    proxy::ProxyConfig config;
    config.listen.emplace_back(boost::asio::ip::make_address("127.0.0.1"), 0);
    server = std::make_unique<proxy::Server>(config);
    // tmpfs: the state is saved after every change, and fsync there is cheap.
    store = std::make_unique<control::StateStore>("/dev/shm/handoff-fuzz-" +
                                                  std::to_string(::getpid()));
    registry = std::make_unique<control::ServiceRegistry>(*server, *store);
    registry->add("default", {}, "127.0.0.1:9");
    api = std::make_unique<control::ControlApi>(*registry, *server, [] {
      throw containers::EngineError(0, "no engine while fuzzing");
      return std::unique_ptr<containers::Engine>();
    });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string line = input.substr(0, nl);
  const std::string body = nl == std::string::npos ? std::string() : input.substr(nl + 1);
  const std::size_t sp = line.find(' ');
  control::ApiRequest request{line.substr(0, sp),
                              sp == std::string::npos ? "/" : line.substr(sp + 1), body};
  control::ApiResponse response = world.api->handle(request);
  if (response.status < 200 || response.status > 599 ||
      (!response.operation && response.body.empty())) {
    std::abort();
  }
  return 0;
}
