#include "control/protocol/control_socket.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <fstream>

#include "control/base/fd_passing.hpp"
#include "tests/support/temp_dir.hpp"

using namespace handoff::control;
using handoff::test::TempDir;
namespace asio = boost::asio;

TEST_CASE("the control socket's path comes from the flag, then HANDOFF_CONTROL, then the default") {
  ::setenv("HANDOFF_CONTROL", "/tmp/from-env.sock", 1);
  CHECK(control_socket_path("/tmp/from-flag.sock") == "/tmp/from-flag.sock");
  CHECK(control_socket_path("") == "/tmp/from-env.sock");
  ::unsetenv("HANDOFF_CONTROL");
  CHECK(control_socket_path("") == "/run/handoff/control.sock");
}

TEST_CASE(
    "binding makes the directory and a private socket, a stale file is replaced, a live one "
    "refused") {
  TempDir dir;
  const std::string path = (dir.path() / "sub" / "control.sock").string();
  asio::io_context io;
  auto bind = [&](const std::string& group) {
    SocketFile file(path, false);
    return bind_control_socket(io, file, group);
  };
  {
    SocketFile file(path, false);
    auto acceptor = bind_control_socket(io, file, "");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    // A second proxy on the same socket is refused while the first one listens.
    CHECK_THROWS_AS(bind(""), std::runtime_error);
    // A successor stages its socket beside the live one and moves it onto the path in one
    // rename; the first one's file, replaced, is not removed when it stops.
    SocketFile staged(path, true);
    auto successor = bind_control_socket(io, staged, "");
    REQUIRE(::stat(path.c_str(), &st) == 0);
    const ino_t first = st.st_ino;
    staged.publish();
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(st.st_ino != first);
    file.remove();
    CHECK(::stat(path.c_str(), &st) == 0);
    staged.remove();
    CHECK(::stat(path.c_str(), &st) != 0);  // its own file is removed
  }
  // A file left behind by a proxy that died is stale: the next start replaces it.
  { const OwnedFd dead = listen_unix(path); }
  struct stat st {};
  CHECK(::stat(path.c_str(), &st) == 0);
  CHECK_NOTHROW(bind(""));
  CHECK_THROWS_AS(bind("no-such-group-here"), std::runtime_error);
}
