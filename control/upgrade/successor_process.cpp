#include "control/upgrade/successor_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <vector>

#include "control/upgrade/takeover.hpp"

extern char** environ;

namespace handoff::control {

namespace {

constexpr std::size_t kKeptLines = 20;

int shell_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string new_takeover_token() {
  std::random_device random;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", random(), random(), random(), random());
}

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start < all.size()) {
    const std::size_t end = all.find('\0', start);
    args.push_back(all.substr(start, end - start));
    start = end == std::string::npos ? all.size() : end + 1;
  }
  if (!args.empty()) {
    args.erase(args.begin());
  }
  return args;
}

SuccessorProcess::SuccessorProcess(const std::string& path) {
  std::vector<std::string> args{path};
  for (std::string& a : own_arguments()) {
    if (a != "--takeover") {
      args.push_back(std::move(a));
    }
  }
  args.emplace_back("--takeover");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // Its output comes back to this process until it takes this process's stdout and stderr.
  token_ = new_takeover_token();
  std::vector<std::string> env_text{"HANDOFF_INHERIT_OUTPUT=1",
                                    fmt::format("{}={}", kTakeoverTokenVariable, token_)};
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!entry.starts_with("HANDOFF_INHERIT_OUTPUT=") &&
        !entry.starts_with(fmt::format("{}=", kTakeoverTokenVariable))) {
      env_text.emplace_back(entry);
    }
  }
  std::vector<char*> envp;
  for (std::string& e : env_text) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  output_ = OwnedFd(pipe_fds[0]);
  OwnedFd write_end(pipe_fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  // Client connections must not leak into it: a connection this process closes would stay open.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  const int rc = ::posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error(fmt::format("cannot start {}: {}", path, std::strerror(rc)));
  }
}

SuccessorProcess::~SuccessorProcess() {
  exited();
}

std::string SuccessorProcess::name() const {
  return fmt::format("pid {}", pid_);
}

void SuccessorProcess::copy_output() {
  pollfd p{output_.get(), POLLIN, 0};
  while (output_.get() >= 0 && ::poll(&p, 1, 0) > 0) {
    copy_chunk();
  }
}

std::optional<std::string> SuccessorProcess::ended() {
  if (const auto status = exited()) {
    copy_output();
    return fmt::format("exited with status {}", *status);
  }
  return std::nullopt;
}

void SuccessorProcess::copy_chunk() {
  char chunk[4096];
  const ssize_t n = ::read(output_.get(), chunk, sizeof chunk);
  if (n <= 0) {
    output_.reset();  // it exited, or took over this process's stderr
    return;
  }
  [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, chunk, static_cast<std::size_t>(n));
  partial_.append(chunk, static_cast<std::size_t>(n));
  std::size_t eol = 0;
  while ((eol = partial_.find('\n')) != std::string::npos) {
    lines_.push_back(partial_.substr(0, eol));
    partial_.erase(0, eol + 1);
    if (lines_.size() > kKeptLines) {
      lines_.pop_front();
    }
  }
}

std::optional<int> SuccessorProcess::exited() {
  if (!status_ && pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = shell_status(status);
    }
  }
  return status_;
}

void SuccessorProcess::abandon() {
  if (!exited() && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) {
      status_ = shell_status(status);
    }
  }
}

std::string SuccessorProcess::last_lines() {
  std::string out;
  for (const std::string& line : lines_) {
    out += fmt::format("\n  {}", line);
  }
  if (!partial_.empty()) {
    out += fmt::format("\n  {}", partial_);
  }
  return out;
}

}  // namespace handoff::control
