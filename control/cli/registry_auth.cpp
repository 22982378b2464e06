#include "control/cli/registry_auth.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace handoff::control {

namespace json = boost::json;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A config key such as "https://registry.example:5000/v1/" reduced to its host.
std::string host_of_key(std::string_view key) {
  if (const std::size_t scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  key = key.substr(0, key.find('/'));
  return key == "index.docker.io" || key == "registry-1.docker.io" ? "docker.io" : std::string(key);
}

std::filesystem::path default_config() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::filesystem::path(dir) / "config.json";
  }
  const char* home = std::getenv("HOME");
  return home == nullptr ? std::filesystem::path()
                         : std::filesystem::path(home) / ".docker" / "config.json";
}

}  // namespace

std::string base64_encode(std::string_view data, bool url) {
  std::string out;
  std::size_t i = 0;
  auto emit = [&](unsigned v) {
    char c = kAlphabet[v & 63];
    out.push_back(url && c == '+' ? '-' : url && c == '/' ? '_' : c);
  };
  for (; i + 2 < data.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    emit(n >> 18), emit(n >> 12), emit(n >> 6), emit(n);
  }
  if (i < data.size()) {
    unsigned n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) {
      n |= static_cast<unsigned char>(data[i + 1]) << 8;
    }
    emit(n >> 18), emit(n >> 12);
    if (i + 1 < data.size()) {
      emit(n >> 6);
    } else {
      out.push_back('=');
    }
    out.push_back('=');
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') {
      break;
    }
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) {
      return {};
    }
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string registry_of(std::string_view image) {
  const std::size_t slash = image.find('/');
  if (slash == std::string_view::npos) {
    return "docker.io";
  }
  const std::string_view first = image.substr(0, slash);
  const bool host = first.find('.') != std::string_view::npos ||
                    first.find(':') != std::string_view::npos || first == "localhost";
  return host ? std::string(first) : "docker.io";
}

std::string registry_auth_for(std::string_view image, const std::string& config_file) {
  const std::filesystem::path path =
      config_file.empty() ? default_config() : std::filesystem::path(config_file);
  std::ifstream in(path);
  if (!in) {
    if (!config_file.empty()) {
      throw std::invalid_argument(fmt::format("cannot read {}", path.string()));
    }
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const json::value config = json::parse(text.str(), ec);
  if (ec || !config.is_object()) {
    throw std::invalid_argument(fmt::format("{} is not a Docker config (JSON)", path.string()));
  }
  const json::value* auths = config.as_object().if_contains("auths");
  if (auths == nullptr || !auths->is_object()) {
    return {};
  }
  const std::string registry = registry_of(image);
  for (const auto& [key, entry] : auths->as_object()) {
    const json::value* auth = entry.is_object() ? entry.as_object().if_contains("auth") : nullptr;
    if (host_of_key(key) != registry || auth == nullptr || !auth->is_string()) {
      continue;
    }
    const std::string pair = base64_decode(auth->as_string());
    const std::size_t colon = pair.find(':');
    if (colon == std::string::npos) {
      throw std::invalid_argument(
          fmt::format("{}: the credentials for {} are not user:password", path.string(), key));
    }
    const json::object header{{"username", pair.substr(0, colon)},
                              {"password", pair.substr(colon + 1)},
                              {"serveraddress", std::string(key)}};
    return base64_encode(json::serialize(header), true);
  }
  return {};
}

}  // namespace handoff::control
