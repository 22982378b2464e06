#include "control/base/text_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace handoff::control {

std::string read_text_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(
        fmt::format("cannot read {} file {}: {}", what, path, std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw std::invalid_argument(fmt::format("cannot read {} file {}", what, path));
  }
  return text.str();
}

namespace {

// Writes all of `data` to `fd` and fsyncs it.
void write_all(int fd, const std::string& data, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::runtime_error(
          fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    throw std::runtime_error(
        fmt::format("cannot fsync {}: {}", path.string(), std::strerror(errno)));
  }
}

}  // namespace

void write_private_file(const std::filesystem::path& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(
        fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  try {
    if (::fchmod(fd, 0600) != 0) {
      throw std::runtime_error(
          fmt::format("cannot restrict {} to mode 0600: {}", path.string(), std::strerror(errno)));
    }
    write_all(fd, data, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void replace_private_file(const std::filesystem::path& path, const std::string& data) {
  // Built in steps: GCC 12 warns (-Wrestrict, falsely) on "literal" + std::string.
  std::string temp_name = ".";
  temp_name += path.filename().string();
  temp_name += ".tmp";
  const std::filesystem::path temp = path.parent_path() / temp_name;
  write_private_file(temp, data);
  if (::rename(temp.c_str(), path.c_str()) == 0) {
    // Make the rename itself durable.
    const std::string dir = path.parent_path().empty() ? "." : path.parent_path().string();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return;
  }
  const int err = errno;
  ::unlink(temp.c_str());
  if (err != EBUSY && err != EXDEV) {
    throw std::runtime_error(
        fmt::format("cannot replace {}: {}", path.string(), std::strerror(err)));
  }
  // A file bind-mounted on its own: renaming onto it fails, so overwrite it.
  write_private_file(path, data);
}

}  // namespace handoff::control
