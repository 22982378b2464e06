#include "tests/support/docker_fixture.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace handoff::test {

std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {-1, {}};
  }
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
    out.append(buf, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string test_app_image() {
  static std::once_flag once;
  static std::string tag;
  static std::string failure;
  std::call_once(once, [] {
    auto [code, version] = shell("docker version --format '{{.Server.Version}}' 2>&1");
    if (code != 0) {
      failure = "no Docker engine answers (scripts/test starts dockerd): " + version;
      return;
    }
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("handoff-image-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::copy_file(HANDOFF_TEST_APP, dir / "handoff-test-app", fs::copy_options::overwrite_existing);
    std::ofstream(dir / "Dockerfile") << "FROM scratch\n"
                                         "COPY handoff-test-app /handoff-test-app\n"
                                         "ENTRYPOINT [\"/handoff-test-app\"]\n";
    tag = "handoff-test-app:test";
    auto [built, out] = shell("docker build -q -t " + tag + " " + dir.string() + " 2>&1");
    fs::remove_all(dir);
    if (built != 0) {
      failure = "cannot build the test app image: " + out;
    }
  });
  REQUIRE_MESSAGE(failure.empty(), failure);
  return tag;
}

std::string unique_service(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::map<std::string, std::string> service_containers(const std::string& service) {
  auto [code, out] = shell("docker ps -a --filter label=handoff.service=" + service +
                           " --format '{{.Names}} {{.State}}'");
  std::map<std::string, std::string> result;
  std::istringstream lines(out);
  std::string name, state;
  while (lines >> name >> state) {
    result[name] = state;
  }
  return result;
}

ServiceCleanup::~ServiceCleanup() {
  shell("docker ps -aq --filter label=handoff.service=" + service_ +
        " | xargs -r docker rm -f >/dev/null 2>&1");
}

}  // namespace handoff::test
