#include "control/base/usable_cores.hpp"

#include <sched.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "proxy/http/whole_number.hpp"

namespace handoff::control {

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    return 1;
  }
  const int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

// A whole number (trailing white space ignored: the file ends with a newline), or -1 ("max",
// or anything else).
long parse_long(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return proxy::parse_whole_number<long>(text).value_or(-1);
}

}  // namespace

unsigned cores_within_quota(std::string_view cpu_max, unsigned cores) {
  const std::size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos || cpu_max.substr(0, space) == "max") {
    return cores;
  }
  const long quota = parse_long(cpu_max.substr(0, space));
  const long period = parse_long(cpu_max.substr(space + 1));
  if (quota <= 0 || period <= 0) {
    return cores;
  }
  const auto allowed = static_cast<unsigned>((quota + period - 1) / period);
  return allowed < 1 ? 1 : (allowed < cores ? allowed : cores);
}

unsigned usable_cores() {
  const unsigned cores = affinity_cores();
  std::string v2 = read_file("/sys/fs/cgroup/cpu.max");
  if (!v2.empty()) {
    return cores_within_quota(v2, cores);
  }
  const std::string quota = read_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  const std::string period = read_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (quota.empty() || period.empty() || quota.rfind("-1", 0) == 0) {
    return cores;
  }
  return cores_within_quota(quota.substr(0, quota.find('\n')) + " " + period, cores);
}

}  // namespace handoff::control
