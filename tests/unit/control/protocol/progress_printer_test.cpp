#include "control/protocol/progress_printer.hpp"

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

TEST_CASE("pull progress and a failed result are rendered, the exit code follows the result") {
  auto [text, code] = render(
      {R"({"step":"pull","state":"running","image":"r/app:v2"})",
       R"({"step":"pull","state":"running","layers":3,"layers_done":1,"bytes":2000000,"total_bytes":4000000,"elapsed_ms":500})",
       R"({"result":"error","error":"engine_error","message":"cannot pull r/app:v2: manifest unknown"})"});
  CHECK(code == 1);
  CHECK(text.find("pull          1/3 layers, 2.0 of 4.0 MB") != std::string::npos);
  CHECK(text.find("deploy failed: cannot pull r/app:v2: manifest unknown") != std::string::npos);
}

TEST_CASE("the cost of a deploy is summed up per version, with failures by reason") {
  auto [text, code] = render(
      {R"({"result":"ok","elapsed_ms":900,"cost":{"window_ms":900,)"
       R"("old":{"upstream":"127.0.0.1:9001","answered":1200,"failed":3,"upstream_5xx":1,)"
       R"("proxy_5xx":0,"connect_errors":0,"cut_at_drain":2,"incomplete":0},)"
       R"("new":{"upstream":"127.0.0.1:9002","answered":800,"failed":0,"upstream_5xx":0,)"
       R"("proxy_5xx":0,"connect_errors":0,"cut_at_drain":0,"incomplete":0},)"
       R"("latency":{"before":{"window_ms":60000,"requests":5000,"p50_ms":1.25,"p99_ms":4.5},)"
       R"("after":{"window_ms":700,"requests":800,"p50_ms":1.5,"p99_ms":6.0}}}})"});
  CHECK(code == 0);
  CHECK(text.find("cost          old 127.0.0.1:9001: 1200 answered, 3 failed (1 upstream 5xx, "
                  "2 cut at the drain timeout)") != std::string::npos);
  CHECK(text.find("new 127.0.0.1:9002: 800 answered, 0 failed\n") != std::string::npos);
  CHECK(text.find("p50 1.25 ms, p99 4.50 ms over 5000 requests the minute before the switch\n") !=
        std::string::npos);
  CHECK(text.find("p50 1.50 ms, p99 6.00 ms over 800 requests after the switch (") !=
        std::string::npos);
}

TEST_CASE("a failed deploy still reports what the attempt cost the old version") {
  auto [text, code] =
      render({R"({"result":"error","error":"health_check_failed","message":"no answer","cost":)"
              R"({"window_ms":2000,"old":{"upstream":"127.0.0.1:9001","answered":50,"failed":0},)"
              R"("latency":{"during":{"window_ms":2000,"requests":50,"p50_ms":1,"p99_ms":2}}}})"});
  CHECK(code == 1);
  CHECK(text.find("cost          old 127.0.0.1:9001: 50 answered, 0 failed\n") !=
        std::string::npos);
  CHECK(text.find("over 50 requests during the attempt") != std::string::npos);
  CHECK(text.find("deploy failed: no answer") != std::string::npos);
}
