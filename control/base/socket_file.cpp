#include "control/base/socket_file.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace handoff::control {

namespace {

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

SocketFile::SocketFile(std::string path, bool staged)
    : path_(std::move(path)),
      staged_path_(staged ? fmt::format("{}.{}.new", path_, ::getpid()) : std::string()),
      published_(!staged) {
  if (staged) {
    ::unlink(staged_path_.c_str());  // left by a process of the same pid that died
  }
}

void SocketFile::bound() {
  inode_ = inode_of(bind_path());
}

void SocketFile::publish() {
  if (published_) {
    return;
  }
  if (::rename(staged_path_.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error(fmt::format("cannot take over {}: {}", path_, std::strerror(errno)));
  }
  published_ = true;
}

void SocketFile::remove() {
  const std::string& file = bind_path();
  if (inode_ != 0 && inode_of(file) == inode_) {
    ::unlink(file.c_str());
  }
  inode_ = 0;
}

}  // namespace handoff::control
