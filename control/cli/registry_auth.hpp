#pragma once

#include <string>
#include <string_view>

namespace handoff::control {

/// The registry an image reference names: its first component when that looks like a host
/// (has a dot or a port, or is `localhost`), else Docker Hub (`docker.io`).
std::string registry_of(std::string_view image);

/// The Engine API's X-Registry-Auth value for pulling `image`: the credentials a Docker
/// config.json keeps for the image's registry (`auths.HOST.auth`, base64 of `user:password`),
/// as base64url JSON. `config_file` empty means $DOCKER_CONFIG/config.json, else
/// ~/.docker/config.json, when it exists. Empty when there are no credentials for it. Throws
/// std::invalid_argument for a file that was named but cannot be read or parsed.
std::string registry_auth_for(std::string_view image, const std::string& config_file);

/// Base64 (RFC 4648 §4), and its URL-safe alphabet (§5) when `url` is set.
std::string base64_encode(std::string_view data, bool url = false);
/// Decodes standard base64; empty on invalid input.
std::string base64_decode(std::string_view text);

}  // namespace handoff::control
