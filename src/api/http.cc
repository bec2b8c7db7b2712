#include "api/http.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "api/connection.h"

namespace berth::api {

using nlohmann::json;

bool ParseBool(std::string_view value) {
  std::string v;
  for (char c : value) {
    if (!isspace(static_cast<unsigned char>(c))) {
      v += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
  }
  return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
}

Filters ParseFilters(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    ThrowInvalid("invalid filter: \"" + std::string(text) + "\" is not a JSON object");
  }
  Filters out;
  for (const auto& [key, value] : doc.items()) {
    std::vector<std::string>& values = out[key];
    if (value.is_array()) {
      for (const json& v : value) {
        if (!v.is_string()) {
          ThrowInvalid("invalid filter '" + key + "': values must be strings");
        }
        values.push_back(v.get<std::string>());
      }
    } else if (value.is_object()) {
      for (const auto& [v, on] : value.items()) {
        if (!on.is_boolean()) {
          ThrowInvalid("invalid filter '" + key + "': expected {\"value\":true}");
        }
        if (on.get<bool>()) {
          values.push_back(v);
        }
      }
    } else {
      ThrowInvalid("invalid filter '" + key + "'");
    }
  }
  return out;
}

std::string UrlDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() + 0 &&
               isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    std::string key = UrlDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::optional<int> ParseApiVersion(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size() || dot > 4 ||
      text.size() - dot - 1 > 4) {
    return std::nullopt;
  }
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(text.substr(0, dot)) || !digits(text.substr(dot + 1))) {
    return std::nullopt;
  }
  return std::stoi(std::string(text.substr(0, dot))) * 100 +
         std::stoi(std::string(text.substr(dot + 1)));
}

int StatusOf(Kind kind) {
  switch (kind) {
    case Kind::kNotFound:
      return 404;
    case Kind::kAlreadyExists:
    case Kind::kConflict:
      return 409;
    case Kind::kInvalidArgument:
      return 400;
    case Kind::kPermissionDenied:
      return 403;
    case Kind::kUnavailable:
      return 503;
    case Kind::kNotImplemented:
      return 501;
    case Kind::kDataLoss:
    case Kind::kInternal:
      break;
  }
  return 500;
}

std::optional<std::string> Request::Query(std::string_view name) const {
  auto it = query_.find(std::string(name));
  if (it == query_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [begin, end] = query_.equal_range(std::string(name));
  for (auto it = begin; it != end; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::string Request::Header(std::string_view name) const { return conn_->Header(name); }

const std::string& Request::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params_.find(name);
  return it == params_.end() ? kEmpty : it->second;
}

size_t Request::ReadBody(void* buf, size_t size) { return conn_->ReadBody(buf, size); }

std::string Request::ReadAllBody(size_t limit) {
  std::string body;
  char buf[64 << 10];
  while (size_t n = ReadBody(buf, sizeof(buf))) {
    if (body.size() + n > limit) {
      ThrowInvalid("request body is larger than " + std::to_string(limit) + " bytes");
    }
    body.append(buf, n);
  }
  return body;
}

nlohmann::json Request::ReadJson(size_t limit) {
  std::string body = ReadAllBody(limit);
  if (std::all_of(body.begin(), body.end(),
                  [](char c) { return isspace(static_cast<unsigned char>(c)); })) {
    return nullptr;
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    ThrowInvalid("invalid JSON body");
  }
  return doc;
}

namespace {

Headers With(Headers extra, std::string_view content_type) {
  Headers headers = StandardHeaders();
  if (!content_type.empty()) {
    headers.emplace_back("Content-Type", std::string(content_type));
  }
  for (auto& h : extra) {
    headers.push_back(std::move(h));
  }
  return headers;
}

}  // namespace

void Response::Json(int status, const nlohmann::json& body) {
  Bytes(status, "application/json",
        body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

void Response::OrderedJson(int status, const nlohmann::ordered_json& body) {
  Bytes(status, "application/json",
        body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

void Response::Empty(int status) {
  started_ = true;
  gone_ = !conn_->WriteWhole(status, With(std::move(extra_), ""), "");
}

void Response::Bytes(int status, std::string_view content_type, std::string_view body) {
  started_ = true;
  gone_ = !conn_->WriteWhole(status, With(std::move(extra_), content_type), body);
}

void Response::Error(const berth::Error& error) {
  Json(StatusOf(error.kind()), {{"message", error.what()}});
}

void Response::BeginStream(int status, std::string_view content_type) {
  started_ = streaming_ = true;
  gone_ = !conn_->WriteStreamHeader(status, With(std::move(extra_), content_type));
}

void Response::Write(std::string_view data) {
  if (!gone_ && !data.empty()) {
    gone_ = !conn_->WriteChunk(data);
  }
}

void Response::EndStream() {
  if (!gone_) {
    gone_ = !conn_->WriteLastChunk();
  }
  streaming_ = false;
}

int Response::Hijack(std::string* buffered) {
  started_ = hijacked_ = true;
  *buffered = conn_->TakeBuffered();
  return conn_->native_handle();
}

bool Response::ClientClosed() {
  if (gone_) {
    return true;
  }
  struct pollfd p = {conn_->native_handle(), POLLRDHUP, 0};
  gone_ = poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  return gone_;
}

void Response::SetHeader(std::string name, std::string value) {
  extra_.emplace_back(std::move(name), std::move(value));
}

}  // namespace berth::api
