#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char** argv) {
  // The tests write to peers that have gone (that is often the point); OpenSSL writes with
  // send(2) without MSG_NOSIGNAL, so a write to a closed peer must fail, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
