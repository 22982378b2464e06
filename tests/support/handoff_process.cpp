#include "tests/support/handoff_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace handoff::test {

std::string handoff_binary() {
  return HANDOFF_BINARY;
}

HandoffProcess::HandoffProcess(std::vector<std::string> args, bool capture_stdout, int max_files) {
  int pipe_fds[2];
  int out_fds[2] = {-1, -1};
  if (::pipe(pipe_fds) != 0 || (capture_stdout && ::pipe(out_fds) != 0)) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out_fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, out_fds[0]);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::string binary = handoff_binary();
  std::vector<std::string> prefix;
  if (max_files > 0) {
    // prlimit(1) sets the limit and then runs handoff in the same process.
    prefix = {"/usr/bin/prlimit", "--nofile=" + std::to_string(max_files), "--"};
  }
  std::vector<char*> argv;
  for (auto& p : prefix) {
    argv.push_back(p.data());
  }
  argv.push_back(binary.data());
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (capture_stdout) {
    ::close(out_fds[1]);
    stdout_fd_ = out_fds[0];
  }
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("cannot start " + binary);
  }
  stderr_fd_ = pipe_fds[0];
  if (capture_stdout) {
    stdout_reader_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(stdout_fd_, buf, sizeof buf)) > 0) {
        std::lock_guard lock(mutex_);
        stdout_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  reader_ = std::thread([this] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(stderr_fd_, buf, sizeof buf)) > 0) {
      std::lock_guard lock(mutex_);
      stderr_.append(buf, static_cast<std::size_t>(n));
    }
  });
}

HandoffProcess::~HandoffProcess() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(5));
  }
  join_output();
  ::close(stderr_fd_);
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
  }
}

std::uint16_t HandoffProcess::wait_listening(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = stderr_text();
    auto pos = text.find("listening on ");
    if (pos != std::string::npos) {
      auto line_end = text.find(' ', pos + 13);
      std::string addr = text.substr(pos + 13, line_end - pos - 13);
      return static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      throw std::runtime_error("handoff exited early: " + stderr_text());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("handoff did not start listening: " + stderr_text());
}

void HandoffProcess::signal(int sig) {
  ::kill(pid_, sig);
}

int HandoffProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exited_) {
    return exit_code_;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string HandoffProcess::stdout_text() const {
  std::lock_guard lock(mutex_);
  return stdout_;
}

std::string HandoffProcess::stderr_text() const {
  std::lock_guard lock(mutex_);
  return stderr_;
}

namespace {
long status_field_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      long kib = 0;
      s >> kib;
      return kib;
    }
  }
  return -1;
}
}  // namespace

double HandoffProcess::cpu_seconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i < 14; ++i) {
    fields >> skip;
  }
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long HandoffProcess::peak_rss_kib() const {
  return status_field_kib(pid_, "VmHWM");
}
long HandoffProcess::rss_kib() const {
  return status_field_kib(pid_, "VmRSS");
}

CommandResult run_command(std::vector<std::string> args) {
  HandoffProcess p(std::move(args), true);
  CommandResult r;
  r.code = p.wait_exit(std::chrono::seconds(60));
  p.join_output();
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

void HandoffProcess::join_output() {
  if (reader_.joinable()) {
    reader_.join();
  }
  if (stdout_reader_.joinable()) {
    stdout_reader_.join();
  }
}

std::pair<int, std::string> run_handoff(std::vector<std::string> args) {
  CommandResult r = run_command(std::move(args));
  return {r.code, r.err};
}

}  // namespace handoff::test
