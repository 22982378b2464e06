#include "control/protocol/control_socket.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "containers/unix_socket.hpp"

namespace handoff::control {

namespace fs = std::filesystem;
using local = boost::asio::local::stream_protocol;

std::string control_socket_path(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  if (const char* env = std::getenv("HANDOFF_CONTROL"); env != nullptr && *env != '\0') {
    return env;
  }
  return "/run/handoff/control.sock";
}

local::acceptor bind_control_socket(boost::asio::io_context& io, SocketFile& file,
                                    const std::string& group) {
  const std::string& path = file.path();
  const std::string& bind_path = file.bind_path();
  const bool take_over = bind_path != path;  // staged beside a live socket, renamed later
  if (bind_path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw std::runtime_error(fmt::format("control socket path is too long: {}", path));
  }
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("cannot create {} for the control socket: {}",
                                           parent.string(), ec.message()));
    }
  }
  struct stat st {};
  if (!take_over && ::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error(fmt::format("{} exists and is not a socket", path));
    }
    if (containers::probe_unix_socket(path) == 0) {
      throw std::runtime_error(fmt::format(
          "another handoff is already answering on {} (stop it or use --control)", path));
    }
    ::unlink(path.c_str());  // left behind by a process that died
  }

  gid_t gid = 0;
  if (!group.empty()) {
    struct group* g = ::getgrnam(group.c_str());
    if (g == nullptr) {
      throw std::runtime_error(fmt::format("--control-group: no group named '{}'", group));
    }
    gid = g->gr_gid;
  }

  local::acceptor acceptor(io);
  boost::system::error_code bec;
  acceptor.open(local(), bec);
  // Created without group or other access from the start, so there is no window before chmod.
  const mode_t old_mask = ::umask(0177);
  if (!bec) {
    acceptor.bind(local::endpoint(bind_path), bec);
  }
  ::umask(old_mask);
  if (!bec) {
    acceptor.listen(64, bec);
  }
  if (bec) {
    throw std::runtime_error(fmt::format("cannot listen on {}: {}", path, bec.message()));
  }
  if (!group.empty()) {
    if (::chown(bind_path.c_str(), static_cast<uid_t>(-1), gid) != 0 ||
        ::chmod(bind_path.c_str(), 0660) != 0) {
      throw std::runtime_error(
          fmt::format("cannot give {} to group '{}': {}", path, group, std::strerror(errno)));
    }
  } else {
    ::chmod(bind_path.c_str(), 0600);
  }
  file.bound();
  return acceptor;
}

}  // namespace handoff::control
