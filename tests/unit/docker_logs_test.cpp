#include <doctest/doctest.h>

#include <string>

#include "containers/docker_engine.hpp"

using handoff::containers::demultiplex_logs;

TEST_CASE("Docker's multiplexed log frames are joined into plain text") {
  std::string raw;
  auto frame = [&](char stream, const std::string& text) {
    raw += std::string{stream, 0, 0, 0};
    raw += static_cast<char>((text.size() >> 24) & 0xff);
    raw += static_cast<char>((text.size() >> 16) & 0xff);
    raw += static_cast<char>((text.size() >> 8) & 0xff);
    raw += static_cast<char>(text.size() & 0xff);
    raw += text;
  };
  frame(1, "starting\n");
  frame(2, "warning: slow disk\n");
  frame(1, std::string(300, 'x') + "\n");
  CHECK(demultiplex_logs(raw) == "starting\nwarning: slow disk\n" + std::string(300, 'x') + "\n");
}

TEST_CASE("logs of a container with a TTY pass through unchanged") {
  CHECK(demultiplex_logs("plain output\n") == "plain output\n");
  CHECK(demultiplex_logs("") == "");
}
