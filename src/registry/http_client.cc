#include "registry/http_client.h"

#include <curl/curl.h>

#include <cstring>

#include "base/error.h"
#include "base/shared_library.h"

namespace berth::registry {

std::optional<Challenge> ParseChallenge(std::string_view h) {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) {
    h.remove_prefix(1);
  }
  size_t sp = h.find(' ');
  if (sp == 0 || h.empty()) {
    return std::nullopt;
  }
  Challenge c;
  for (char ch : h.substr(0, sp)) {
    c.scheme += static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  }
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : h.substr(sp + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) {
      rest.remove_prefix(1);
    }
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) {
      break;
    }
    std::string key(rest.substr(0, eq));
    while (!key.empty() && key.back() == ' ') {
      key.pop_back();
    }
    for (char& ch : key) {
      ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    }
    rest.remove_prefix(eq + 1);
    while (!rest.empty() && rest.front() == ' ') {
      rest.remove_prefix(1);
    }
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() != '"') {
        if (rest.front() == '\\' && rest.size() > 1) {
          rest.remove_prefix(1);
        }
        value += rest.front();
        rest.remove_prefix(1);
      }
      if (!rest.empty()) {
        rest.remove_prefix(1);
      }
    } else {
      size_t comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) {
        value.pop_back();
      }
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
    c.params[key] = value;
  }
  return c;
}

namespace {

// libcurl, loaded on the first request and kept: berthd that never pulls or pushes never maps
// it and its TLS stack (together more than half of an idle daemon's memory). The library is
// never closed: curl's handles live in thread_local slots and OpenSSL pins itself anyway.
struct CurlApi {
  CurlApi() : lib("libcurl.so.4") {
    lib.Bind("curl_global_init", global_init);
    lib.Bind("curl_easy_init", easy_init);
    lib.Bind("curl_easy_cleanup", easy_cleanup);
    lib.Bind("curl_easy_reset", easy_reset);
    lib.Bind("curl_easy_setopt", easy_setopt);
    lib.Bind("curl_easy_getinfo", easy_getinfo);
    lib.Bind("curl_easy_perform", easy_perform);
    lib.Bind("curl_easy_strerror", easy_strerror);
    lib.Bind("curl_slist_append", slist_append);
    lib.Bind("curl_slist_free_all", slist_free_all);
    global_init(CURL_GLOBAL_DEFAULT);
  }
  SharedLibrary lib;
  decltype(&curl_global_init) global_init;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_reset) easy_reset;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_perform) easy_perform;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

// Throws (and tries again on the next call) when libcurl cannot be loaded.
const CurlApi& Curl() {
  static const CurlApi* api = new CurlApi();  // never deleted (above)
  return *api;
}

struct Transfer {
  const ClientRequest* req;
  ClientReply* reply;
  CURL* h;
  size_t sent = 0;  // of req->body
  bool aborted = false;
  bool too_long = false;
  bool announced = false;
};

size_t HeaderCb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (line.rfind("HTTP/", 0) == 0) {
    t->reply->headers.clear();  // a new response (after a redirect or a 100)
  } else if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& ch : name) {
      ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    t->reply->headers[name] = value;
  }
  return size * n;
}

size_t WriteCb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  long status = 0;
  Curl().easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
  bool ok = status >= 200 && status < 300;
  if (!t->announced) {
    t->announced = true;
    if (t->req->on_response) {
      t->req->on_response(status, t->reply->headers);
    }
  }
  if (ok && t->req->on_data) {
    if (!t->req->on_data(data, len)) {
      t->aborted = true;
      return 0;
    }
    return len;
  }
  size_t limit = ok ? t->req->body_limit : size_t{1} << 20;
  if (t->reply->body.size() + len > limit) {
    t->too_long = true;
    return 0;
  }
  t->reply->body.append(data, len);
  return len;
}

size_t ReadCb(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t want = size * n;
  if (t->req->read) {
    return t->req->read(buf, want);
  }
  size_t left = t->req->body.size() - t->sent;
  size_t take = std::min(left, want);
  memcpy(buf, t->req->body.data() + t->sent, take);
  t->sent += take;
  return take;
}

// One handle per thread, reset between requests: its connection cache survives the reset.
struct Handle {
  Handle() : h(Curl().easy_init()) {}
  ~Handle() {
    if (h != nullptr) {
      Curl().easy_cleanup(h);
    }
  }
  CURL* h;
};

}  // namespace

namespace {

// One attempt; `retryable` tells whether it failed before anything of an answer arrived.
ClientReply PerformOnce(const ClientRequest& req, bool* retryable) {
  *retryable = false;
  const CurlApi& curl = Curl();
  thread_local Handle handle;
  CURL* h = handle.h;
  if (h == nullptr) {
    throw Error(Kind::kInternal, "curl_easy_init failed");
  }
  curl.easy_reset(h);
  ClientReply reply;
  Transfer t{&req, &reply, h};
  struct curl_slist* headers = nullptr;
  for (const std::string& line : req.headers) {
    headers = curl.slist_append(headers, line.c_str());
  }
  headers = curl.slist_append(headers, "Expect:");  // no 100-continue round trip
  curl.easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, req.stall_seconds);
  curl.easy_setopt(h, CURLOPT_USERAGENT, "berth");
  curl.easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
  if (!req.verify_tls) {
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, HeaderCb);
  curl.easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteCb);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  if (req.method == "HEAD") {
    curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl.easy_setopt(h, CURLOPT_READFUNCTION, ReadCb);
    curl.easy_setopt(h, CURLOPT_READDATA, &t);
    curl_off_t size = req.read ? req.read_size : static_cast<curl_off_t>(req.body.size());
    curl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
  }
  CURLcode rc = curl.easy_perform(h);
  curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  curl.slist_free_all(headers);
  if (rc != CURLE_OK) {
    std::string why = t.too_long  ? "answer too long"
                      : t.aborted ? "transfer aborted"
                                  : curl.easy_strerror(rc);
    *retryable = !t.too_long && !t.aborted && !t.announced && reply.status == 0;
    throw Error(Kind::kUnavailable, req.method + " " + req.url + ": " + why);
  }
  return reply;
}

}  // namespace

ClientReply Perform(const ClientRequest& req) {
  // A GET or HEAD that failed before any of an answer arrived (a kept-alive connection the
  // server had just closed, a proxy that hung up) is sent once more: nothing of it reached
  // the caller. Bodies are not sent twice.
  bool idempotent = req.method == "GET" || req.method == "HEAD";
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    try {
      return PerformOnce(req, &retryable);
    } catch (const Error&) {
      if (!idempotent || !retryable || attempt >= 2) throw;
    }
  }
}

std::string ResolveUrl(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) {
    return location;
  }
  size_t scheme = base.find("://");
  size_t path = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  std::string origin = path == std::string::npos ? base : base.substr(0, path);
  if (!location.empty() && location.front() == '/') {
    return origin + location;
  }
  std::string dir = path == std::string::npos ? "/" : base.substr(path);
  dir = dir.substr(0, dir.rfind('/') + 1);
  return origin + dir + location;
}

std::string UrlEscape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace berth::registry
