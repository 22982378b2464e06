#include "control/acme/acme_manager.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/base/operation_runner.hpp"
#include "control/base/text_file.hpp"

namespace handoff::control {

namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kMaxRetry = std::chrono::hours(1);

// A file the manager wrote before, or "" when there is none yet.
std::string read_if_present(const fs::path& path) {
  return fs::exists(path) ? read_text_file(path.string(), "ACME account") : std::string();
}

std::string utc(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

}  // namespace

std::vector<std::string> acme_names(const std::vector<std::string>& hosts) {
  std::vector<std::string> names;
  for (const std::string& h : hosts) {
    const std::string name = h.substr(0, h.find('/'));
    if (!name.empty() && name.find('*') == std::string::npos &&
        std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

AcmeManager::AcmeManager(AcmeSettings settings, ServiceRegistry& registry,
                         proxy::AcmeChallenges& challenges, fs::path state_dir)
    : settings_(std::move(settings)),
      registry_(registry),
      challenges_(challenges),
      key_file_(state_dir / "acme-account.pem"),
      account_file_(state_dir / "acme-account.json") {}

void AcmeManager::start() {
  thread_.start([this](const std::stop_token& stop) { run(stop); });
}

void AcmeManager::stop() {
  thread_.stop();
}

void AcmeManager::run(const std::stop_token& stop) {
  do {
    for (const AcmeTarget& target : registry_.acme_targets()) {
      if (stop.stop_requested()) {
        return;
      }
      serve(target, stop);
    }
  } while (!wait_unless_stopped(stop, Clock::now() + kTick));
}

// Orders a certificate for one service when it needs one and is not backing off.
void AcmeManager::serve(const AcmeTarget& target, const std::stop_token& stop) {
  const std::vector<std::string> names = acme_names(target.hosts);
  if (names.empty()) {
    registry_.set_acme_state(target.service,
                             {"failed", "the service has no host name to certify", ""});
    return;
  }
  auto retry = retries_.find(target.service);
  if (!due(target, names) || (retry != retries_.end() && Clock::now() < retry->second.next)) {
    return;
  }
  registry_.set_acme_state(target.service, {"issuing", "", ""});
  try {
    const ChallengePublisher publisher{
        [this](const std::string& token, const std::string& key) {
          challenges_.publish(token, key);
        },
        [this](const std::string& token) { challenges_.withdraw(token); }};
    const IssuedCertificate issued = client(stop).issue(names, publisher);
    auto certificate = proxy::Certificate::parse(issued.chain_pem, issued.key_pem);
    const std::string expires = utc(certificate->not_after());
    if (registry_.install_certificate(target.service, std::move(certificate))) {
      fmt::print(stderr, "handoff: acme: service {}: certificate for {} installed (expires {})\n",
                 target.service, fmt::join(names, ", "), expires);
      registry_.set_acme_state(target.service, {"valid", "", ""});
    }
    retries_.erase(target.service);
  } catch (const std::exception& e) {
    if (!stop.stop_requested()) {
      failed(target.service, e.what());
    }
  }
}

// A certificate is due when there is none, when it does not cover every name, or once
// `renew_at` of its lifetime has passed.
bool AcmeManager::due(const AcmeTarget& target, const std::vector<std::string>& names) const {
  if (!target.certificate || !target.issued_by_acme) {
    return true;
  }
  const std::vector<std::string>& covered = target.certificate->names();
  for (const std::string& n : names) {
    if (std::find(covered.begin(), covered.end(), n) == covered.end()) {
      return true;
    }
  }
  const auto start = target.certificate->not_before();
  const auto lifetime = target.certificate->not_after() - start;
  const auto renew_from = start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                      lifetime * settings_.renew_at);
  return std::chrono::system_clock::now() >= renew_from;
}

void AcmeManager::failed(const std::string& service, const std::string& why) {
  Retry& r = retries_[service];
  const auto wait = std::min<std::chrono::milliseconds>(
      settings_.retry * (1LL << std::min(r.failures, 12)),
      std::chrono::duration_cast<std::chrono::milliseconds>(kMaxRetry));
  ++r.failures;
  r.next = Clock::now() + wait;
  const std::string next = utc(std::chrono::system_clock::now() +
                               std::chrono::duration_cast<std::chrono::seconds>(wait));
  fmt::print(stderr, "handoff: acme: service {}: no certificate: {}; retrying at {}\n", service,
             why, next);
  registry_.set_acme_state(service, {"failed", why, next});
}

// The account: its key from the state directory (made and saved on first use), and its URL
// when it was registered with this directory before.
AcmeClient& AcmeManager::client(const std::stop_token& stop) {
  if (client_) {
    return *client_;
  }
  const std::string saved_key = read_if_present(key_file_);
  EcKey key = saved_key.empty() ? EcKey::generate() : EcKey::from_pem(saved_key);
  if (saved_key.empty()) {
    replace_private_file(key_file_, key.private_pem());
  }
  std::string url;
  boost::system::error_code ec;
  const json::value saved = json::parse(read_if_present(account_file_), ec);
  if (!ec && saved.is_object() && saved.as_object().contains("directory") &&
      saved.at("directory") == json::value(settings_.directory_url)) {
    url = std::string(saved.at("account").as_string());
  }
  client_ = std::make_unique<AcmeClient>(settings_.directory_url, settings_.ca_file, std::move(key),
                                         url, settings_.email, stop);
  const std::string& account = client_->account();
  if (account != url) {
    remember_account(account);
  }
  return *client_;
}

void AcmeManager::remember_account(const std::string& url) const {
  replace_private_file(
      account_file_,
      json::serialize(json::object{{"directory", settings_.directory_url}, {"account", url}}) +
          "\n");
}

}  // namespace handoff::control
