#include "control/progress_printer.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

using handoff::control::ProgressPrinter;

namespace {

/// Feeds `events` (NDJSON lines) to a printer and returns what it printed and its exit code.
std::pair<std::string, int> render(std::initializer_list<std::string_view> events) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  ProgressPrinter printer("deploy", false, out, err);
  for (std::string_view e : events) {
    printer.line(e);
  }
  const int code = printer.finish();
  std::string text;
  for (std::FILE* f : {out, err}) {
    std::rewind(f);
    for (int c; (c = std::fgetc(f)) != EOF;) {
      text.push_back(static_cast<char>(c));
    }
    std::fclose(f);
  }
  return {text, code};
}

}  // namespace

TEST_CASE("the engine's HEALTHCHECK state is shown as such, not as a garbled HTTP attempt") {
  auto [text, code] = render(
      {R"({"step":"health_check","state":"running","engine_health":"starting","elapsed_ms":250})",
       R"({"step":"health_check","state":"running","attempt":1,"status":200,"healthy":1,"needed":2,"elapsed_ms":400})",
       R"({"result":"ok","elapsed_ms":900})"});
  CHECK(code == 0);
  CHECK(text.find("health check  the engine reports starting") != std::string::npos);
  CHECK(text.find("attempt 0") == std::string::npos);
  CHECK(text.find("attempt 1: HTTP 200 (1/2 healthy") != std::string::npos);
}

TEST_CASE("pull progress and a failed result are rendered; the exit code follows the result") {
  auto [text, code] = render(
      {R"({"step":"pull","state":"running","image":"r/app:v2"})",
       R"({"step":"pull","state":"running","layers":3,"layers_done":1,"bytes":2000000,"total_bytes":4000000,"elapsed_ms":500})",
       R"({"result":"error","error":"engine_error","message":"cannot pull r/app:v2: manifest unknown"})"});
  CHECK(code == 1);
  CHECK(text.find("pull          1/3 layers, 2.0 of 4.0 MB") != std::string::npos);
  CHECK(text.find("deploy failed: cannot pull r/app:v2: manifest unknown") != std::string::npos);
}
