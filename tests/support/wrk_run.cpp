#include "tests/support/wrk_run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace handoff::test {

namespace {

long number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(text, m, std::regex(pattern))) {
    return std::stol(m[1].str());
  }
  return 0;
}

// Runs `args` and returns its stdout and stderr. No other descriptor of the test reaches it:
// wrk sizes its event loop by its connection count and fails connections whose descriptor
// numbers are above it, which inherited descriptors would push them to.
std::pair<int, std::string> run_alone(std::vector<std::string> args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  char chunk[4096];
  ssize_t n = 0;
  while (rc == 0 && (n = ::read(out[0], chunk, sizeof chunk)) > 0) {
    text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  if (rc != 0 || ::waitpid(pid, &status, 0) != pid) {
    return {-1, "cannot run " + args.front()};
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

}  // namespace

WrkResult run_wrk(std::uint16_t port, int seconds, int connections, const std::string& script) {
  // A request counts as timed out after 10 s: wrk's default of 2 s measures a loaded 2-core
  // machine more than the proxy (a late answer still arrives).
  std::vector<std::string> args{
      "wrk",       "-t2", fmt::format("-c{}", connections), fmt::format("-d{}s", seconds),
      "--timeout", "10s"};
  if (!script.empty()) {
    args.insert(args.end(), {"-s", script});
  }
  args.push_back(fmt::format("http://127.0.0.1:{}/", port));
  auto [code, out] = run_alone(std::move(args));
  if (code != 0 || out.find("requests in") == std::string::npos) {
    throw std::runtime_error("wrk did not run: " + out);
  }
  WrkResult r;
  r.output = out;
  r.requests = number_after(out, R"((\d+) requests in)");
  r.connect_errors = number_after(out, R"(Socket errors: connect (\d+))");
  r.read_errors = number_after(out, R"(Socket errors: connect \d+, read (\d+))");
  r.write_errors = number_after(out, R"(Socket errors: .*write (\d+))");
  r.timeouts = number_after(out, R"(Socket errors: .*timeout (\d+))");
  r.non_2xx = number_after(out, R"(Non-2xx or 3xx responses: (\d+))");
  return r;
}

}  // namespace handoff::test
