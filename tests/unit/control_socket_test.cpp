#include "control/control_socket.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <fstream>

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
    "binding makes the directory and a private socket; a stale file is replaced, a live one "
    "refused") {
  TempDir dir;
  const std::string path = (dir.path() / "sub" / "control.sock").string();
  asio::io_context io;
  {
    auto acceptor = bind_control_socket(io, path, "");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    // A second proxy on the same socket is refused while the first one listens.
    CHECK_THROWS_AS(bind_control_socket(io, path, ""), std::runtime_error);
  }
  // The first one is gone (its file stays behind): the next start replaces the stale file.
  CHECK_NOTHROW(bind_control_socket(io, path, ""));
  CHECK_THROWS_AS(bind_control_socket(io, path, "no-such-group-here"), std::runtime_error);
}
