// Messages with descriptors between two handoff processes (here two ends of a socketpair).
#include "control/base/fd_passing.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

using namespace handoff;
using control::OwnedFd;

namespace {

struct Pair {
  OwnedFd a;
  OwnedFd b;
  Pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    a = OwnedFd(fds[0]);
    b = OwnedFd(fds[1]);
  }
};

control::Deadline soon() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(5);
}

// The inode of what a descriptor refers to: a received descriptor names the same file.
ino_t inode(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

TEST_CASE("text and descriptors arrive together, more than one sendmsg holds, close-on-exec") {
  Pair p;
  std::vector<OwnedFd> pipes;
  std::vector<int> sent;
  for (int i = 0; i < 300; ++i) {  // over the 250 one sendmsg carries
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pipes.emplace_back(fds[0]);
    pipes.emplace_back(fds[1]);
    sent.push_back(fds[0]);
  }
  const std::string text(100'000, 'j');  // more than a socket buffer: the reader must drain
  std::thread sender([&] { control::send_message(p.a.get(), text, sent, soon()); });
  control::FdMessage got = control::receive_message(p.b.get(), soon());
  sender.join();
  CHECK(got.text == text);
  REQUIRE(got.fds.size() == sent.size());
  bool same = true;
  bool cloexec = true;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    same = same && inode(got.fds[i].get()) == inode(sent[i]);
    cloexec = cloexec && (::fcntl(got.fds[i].get(), F_GETFD) & FD_CLOEXEC) != 0;
  }
  CHECK(same);
  CHECK(cloexec);

  // Several messages in a row keep their order and their own descriptors.
  control::send_message(p.a.get(), "one", {sent[0]}, soon());
  control::send_message(p.a.get(), "two", {}, soon());
  control::FdMessage one = control::receive_message(p.b.get(), soon());
  control::FdMessage two = control::receive_message(p.b.get(), soon());
  CHECK(one.text == "one");
  CHECK(one.fds.size() == 1);
  CHECK(two.text == "two");
  CHECK(two.fds.empty());
}

TEST_CASE("a peer that closes or says nothing is an error, never a hang") {
  {
    Pair p;
    p.a.reset();
    CHECK_THROWS_WITH_AS(control::receive_message(p.b.get(), soon()),
                         "the other process closed the connection", std::runtime_error);
  }
  {
    Pair p;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(
        control::receive_message(p.b.get(), start + std::chrono::milliseconds(100)), "timed out",
        std::runtime_error);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
  }
  {
    Pair p;
    CHECK(::send(p.a.get(), "X", 1, 0) == 1);
    CHECK_THROWS_WITH_AS(control::receive_message(p.b.get(), soon()),
                         "malformed message from the other process", std::runtime_error);
  }
}

TEST_CASE("a unix socket is private, answers by its path, and knows its peer's user") {
  test::TempDir dir;
  const std::string path = (dir.path() / "takeover.sock").string();
  OwnedFd listener = control::listen_unix(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  OwnedFd client = control::connect_unix(path);
  CHECK(control::peer_uid(client.get()) == static_cast<long>(::geteuid()));
  OwnedFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  CHECK(accepted.get() >= 0);
  CHECK_THROWS_AS(control::listen_unix(path), std::runtime_error);  // the path is taken
  CHECK_THROWS_AS(control::connect_unix((dir.path() / "none.sock").string()), std::runtime_error);
}
