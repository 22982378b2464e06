#include "tests/support/pebble_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/test_certificates.hpp"

extern char** environ;

namespace handoff::test {

namespace fs = std::filesystem;

namespace {

// Starts `argv` with stdout and stderr going to `log`.
pid_t spawn(std::vector<std::string> argv, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + argv[0]);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

PebbleServer::PebbleServer(const fs::path& dir, std::uint16_t http_port)
    : dir_(dir), acme_port_(free_port()), management_port_(free_port()) {
  const TestCertificate tls = make_certificate({{"localhost"}});
  ca_file_ = (dir / "pebble-tls.crt").string();
  std::ofstream(ca_file_) << tls.chain_pem;
  std::ofstream(dir / "pebble-tls.key") << tls.key_pem;
  const std::uint16_t dns_port = free_port();
  std::ofstream(dir / "pebble.json")
      << R"({"pebble": {"listenAddress": "127.0.0.1:)" << acme_port_
      << R"(", "managementListenAddress": "127.0.0.1:)" << management_port_
      << R"(", "certificate": ")" << ca_file_ << R"(", "privateKey": ")"
      << (dir / "pebble-tls.key").string() << R"(", "httpPort": )" << http_port
      << R"(, "tlsPort": )" << free_port() << R"(, "ocspResponderURL": "",)"
      << R"( "externalAccountBindingRequired": false}})";
  const std::string dns = "127.0.0.1:" + std::to_string(dns_port);
  dns_ = spawn({"pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01",
                dns, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management",
                "127.0.0.1:" + std::to_string(free_port())},
               dir / "challtestsrv.log");
  pebble_ = spawn({"pebble", "-config", (dir / "pebble.json").string(), "-dnsserver", dns},
                  dir / "pebble.log");
  if (eventually(
          [&] {
            return shell("curl -sf --cacert " + ca_file_ + " " + directory() + " >/dev/null")
                       .first == 0;
          },
          std::chrono::seconds(20), std::chrono::milliseconds(100))) {
    return;
  }
  throw std::runtime_error("pebble did not start: " + log());
}

PebbleServer::~PebbleServer() {
  stop(pebble_);
  stop(dns_);
}

std::string PebbleServer::directory() const {
  return "https://localhost:" + std::to_string(acme_port_) + "/dir";
}

std::string PebbleServer::issuing_root() const {
  const fs::path file = dir_ / "pebble-root.pem";
  shell("curl -sf -k https://127.0.0.1:" + std::to_string(management_port_) + "/roots/0 -o " +
        file.string());
  return file.string();
}

std::string PebbleServer::log() const {
  return read_all(dir_ / "pebble.log") + read_all(dir_ / "challtestsrv.log");
}

}  // namespace handoff::test
