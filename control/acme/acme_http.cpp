#include "control/acme/acme_http.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace handoff::control {

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::size_t read_header(char* data, std::size_t size, std::size_t n, void* out) {
  const std::string_view line(data, size * n);
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    const std::size_t first = value.find_first_not_of(" \t");
    const std::size_t last = value.find_last_not_of(" \t\r\n");
    value = first == std::string_view::npos ? "" : value.substr(first, last - first + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = std::string(value);
  }
  return size * n;
}

}  // namespace

AcmeReply AcmeHttp::get(const std::string& url) const {
  return perform("GET", url, nullptr);
}

AcmeReply AcmeHttp::head(const std::string& url) const {
  return perform("HEAD", url, nullptr);
}

AcmeReply AcmeHttp::post(const std::string& url, const std::string& jws) const {
  return perform("POST", url, &jws);
}

AcmeReply AcmeHttp::perform(const std::string& method, const std::string& url,
                            const std::string* body) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    throw std::runtime_error("cannot start an HTTP request (libcurl)");
  }
  AcmeReply reply;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/jose+json");
  headers = curl_slist_append(headers, "User-Agent: handoff");
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  if (!ca_file_.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  }
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply.headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    throw std::runtime_error(fmt::format("{} {}: {}", method, url, curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace handoff::control
