#include "containers/own_container.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace handoff::containers {

namespace {

constexpr std::size_t kIdLength = 64;

bool is_id(std::string_view text) {
  return text.size() == kIdLength && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string container_id_from_mountinfo(std::string_view mountinfo) {
  constexpr std::string_view kMarker = "/containers/";
  std::size_t at = 0;
  while ((at = mountinfo.find(kMarker, at)) != std::string_view::npos) {
    at += kMarker.size();
    const std::string_view candidate = mountinfo.substr(at, kIdLength + 1);
    if (candidate.size() == kIdLength + 1 && candidate.back() == '/' &&
        is_id(candidate.substr(0, kIdLength))) {
      return std::string(candidate.substr(0, kIdLength));
    }
  }
  return {};
}

std::string front_container_id() {
  return ::getpid() == 1 ? own_container_id() : std::string();
}

std::string own_container_id() {
  if (const char* env = std::getenv("HANDOFF_CONTAINER_ID"); env != nullptr && *env != '\0') {
    return env;
  }
  std::ifstream in("/proc/self/mountinfo");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return container_id_from_mountinfo(text);
}

}  // namespace handoff::containers
