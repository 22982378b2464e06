#include "control/acme/acme_client.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/base/operation_runner.hpp"
#include "control/protocol/json_fields.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

constexpr int kNonceRetries = 10;
constexpr auto kPollLimit = std::chrono::minutes(2);

// The server's problem document (RFC 8555 §6.7) as one line, or the status and body.
std::string problem(const AcmeReply& reply) {
  boost::system::error_code ec;
  const json::value doc = json::parse(reply.body, ec);
  if (!ec && doc.is_object()) {
    const std::string type = field_text(doc.as_object(), "type");
    const std::string detail = field_text(doc.as_object(), "detail");
    if (!type.empty() || !detail.empty()) {
      return fmt::format("{} ({})", detail, type);
    }
  }
  return fmt::format("HTTP {}: {}", reply.status, reply.body.substr(0, 200));
}

bool bad_nonce(const AcmeReply& reply) {
  return reply.status == 400 &&
         reply.body.find("urn:ietf:params:acme:error:badNonce") != std::string::npos;
}

}  // namespace

AcmeClient::AcmeClient(std::string directory_url, std::string ca_file, EcKey account_key,
                       std::string account_url, std::string email, std::stop_token stop)
    : http_(std::move(ca_file)),
      directory_url_(std::move(directory_url)),
      key_(std::move(account_key)),
      account_url_(std::move(account_url)),
      email_(std::move(email)),
      stop_(std::move(stop)) {}

void AcmeClient::load_directory() {
  if (!directory_.empty()) {
    return;
  }
  AcmeReply reply;
  try {
    reply = http_.get(directory_url_);
  } catch (const std::exception& e) {
    throw AcmeError(fmt::format("the ACME directory cannot be read: {}", e.what()));
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(reply.body, ec);
  if (reply.status != 200 || ec || !doc.is_object() ||
      field_text(doc.as_object(), "newOrder").empty()) {
    throw AcmeError(
        fmt::format("{} is not an ACME directory (HTTP {})", directory_url_, reply.status));
  }
  directory_ = doc.as_object();
}

std::string AcmeClient::take_nonce() {
  std::string nonce = std::move(nonce_);
  nonce_.clear();
  if (nonce.empty()) {
    nonce = http_.head(field_text(directory_, "newNonce")).header("replay-nonce");
    if (nonce.empty()) {
      throw AcmeError("the ACME server gave no nonce");
    }
  }
  return nonce;
}

// A signed POST. Every reply carries the next nonce; a `badNonce` is retried with it.
AcmeReply AcmeClient::signed_post(const std::string& url, const std::string& payload) {
  for (int attempt = 0;; ++attempt) {
    const std::string jws = sign_jws(key_, account_url_, take_nonce(), url, payload);
    AcmeReply reply;
    try {
      reply = http_.post(url, jws);
    } catch (const std::exception& e) {
      throw AcmeError(e.what());
    }
    nonce_ = reply.header("replay-nonce");
    if (!bad_nonce(reply) || attempt == kNonceRetries) {
      return reply;
    }
  }
}

json::object AcmeClient::post_json(const std::string& url, const std::string& payload,
                                   AcmeReply* out) {
  AcmeReply reply = signed_post(url, payload);
  if (reply.status < 200 || reply.status >= 300) {
    throw AcmeError(problem(reply));
  }
  boost::system::error_code ec;
  json::value doc = json::parse(reply.body, ec);
  if (ec || !doc.is_object()) {
    throw AcmeError(
        fmt::format("the ACME server answered {} with something that is not JSON", url));
  }
  if (out != nullptr) {
    *out = std::move(reply);
  }
  return std::move(doc.as_object());
}

const std::string& AcmeClient::account() {
  load_directory();
  if (account_url_.empty()) {
    json::object payload{{"termsOfServiceAgreed", true}};
    if (!email_.empty()) {
      payload["contact"] = json::array{json::value("mailto:" + email_)};
    }
    AcmeReply reply;
    post_json(field_text(directory_, "newAccount"), json::serialize(payload), &reply);
    account_url_ = reply.header("location");
    if (account_url_.empty()) {
      throw AcmeError("the ACME server created the account but gave no URL for it");
    }
  }
  return account_url_;
}

IssuedCertificate AcmeClient::issue(const std::vector<std::string>& names,
                                    const ChallengePublisher& challenges) {
  account();
  json::array identifiers;
  for (const std::string& n : names) {
    identifiers.push_back(json::object{{"type", "dns"}, {"value", n}});
  }
  AcmeReply created;
  json::object order =
      post_json(field_text(directory_, "newOrder"),
                json::serialize(json::object{{"identifiers", identifiers}}), &created);
  const std::string order_url = created.header("location");
  for (const json::value& authz : order.at("authorizations").as_array()) {
    authorize(std::string(authz.as_string()), challenges);
  }
  const EcKey certificate_key = EcKey::generate();
  post_json(field_text(order, "finalize"),
            json::serialize(json::object{{"csr", make_csr(certificate_key, names)}}));
  order = poll(order_url, "valid");
  const AcmeReply chain = signed_post(field_text(order, "certificate"), "");
  if (chain.status != 200) {
    throw AcmeError(fmt::format("downloading the certificate: {}", problem(chain)));
  }
  return {chain.body, certificate_key.private_pem()};
}

// Publishes the HTTP-01 key authorization, asks the server to validate, and waits for the
// verdict. The token is withdrawn whatever the outcome.
void AcmeClient::authorize(const std::string& authorization_url,
                           const ChallengePublisher& challenges) {
  const json::object authz = post_json(authorization_url, "");
  if (field_text(authz, "status") == "valid") {
    return;  // validated before, for this account
  }
  const std::string name = field_text(authz.at("identifier").as_object(), "value");
  for (const json::value& c : authz.at("challenges").as_array()) {
    const json::object& challenge = c.as_object();
    if (field_text(challenge, "type") != "http-01") {
      continue;
    }
    const std::string token = field_text(challenge, "token");
    challenges.publish(token, token + "." + key_.thumbprint());
    try {
      post_json(field_text(challenge, "url"), "{}");
      poll(authorization_url, "valid");
    } catch (...) {
      challenges.withdraw(token);
      throw;
    }
    challenges.withdraw(token);
    return;
  }
  throw AcmeError(fmt::format("the ACME server offers no http-01 challenge for {}", name));
}

// POST-as-GET until the object's status is `done_status`; "invalid" ends it with the problem
// the server recorded (for an authorization: its challenge's error).
json::object AcmeClient::poll(const std::string& url, const std::string& done_status) {
  const auto give_up = std::chrono::steady_clock::now() + kPollLimit;
  while (true) {
    AcmeReply reply;
    json::object o = post_json(url, "", &reply);
    const std::string status = field_text(o, "status");
    if (status == done_status) {
      return o;
    }
    if (status == "invalid") {
      std::string why = o.contains("error") ? json::serialize(o.at("error")) : std::string();
      for (const json::value& c :
           o.contains("challenges") ? o.at("challenges").as_array() : json::array{}) {
        if (c.as_object().contains("error")) {
          why = field_text(c.as_object().at("error").as_object(), "detail");
        }
      }
      throw AcmeError(fmt::format("{} is invalid: {}", url, why));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      throw AcmeError(fmt::format("{} still '{}' after {} s", url, status,
                                  std::chrono::seconds(kPollLimit).count()));
    }
    const std::string retry = reply.header("retry-after");
    const long seconds = retry.empty() ? 1 : std::clamp(std::atol(retry.c_str()), 1L, 10L);
    pause(std::chrono::seconds(seconds));
  }
}

void AcmeClient::pause(std::chrono::milliseconds how_long) {
  if (wait_unless_stopped(stop_, std::chrono::steady_clock::now() + how_long)) {
    throw AcmeError("stopped: handoff is shutting down");
  }
}

}  // namespace handoff::control
