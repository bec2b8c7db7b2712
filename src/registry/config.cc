#include "registry/config.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::registry {

namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  // Calls fn(key, value) for each key of `obj` (at `where`), refusing keys not in `known`.
  template <class Fn>
  void Object(const json& obj, const std::string& where, std::initializer_list<const char*> known,
              Fn fn) {
    if (!obj.is_object()) {
      Fail(where, "must be an object");
    }
    for (const auto& item : obj.items()) {
      bool ok = false;
      for (const char* k : known) {
        ok = ok || item.key() == k;
      }
      if (!ok) {
        Fail(Join(where, item.key()), "unknown key");
      }
      fn(item.key(), item.value(), Join(where, item.key()));
    }
  }
  std::string Str(const json& v, const std::string& where) {
    if (!v.is_string()) {
      Fail(where, "must be a string");
    }
    return v.get<std::string>();
  }
  bool Bool(const json& v, const std::string& where) {
    if (!v.is_boolean()) {
      Fail(where, "must be true or false");
    }
    return v.get<bool>();
  }
  int64_t Int(const json& v, const std::string& where) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      Fail(where, "must be a non-negative integer");
    }
    return v.get<int64_t>();
  }
  [[noreturn]] void Fail(const std::string& where, const std::string& what) {
    ThrowInvalid(origin_ + ": " + where + ": " + what);
  }

 private:
  static std::string Join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }
  std::string origin_;
};

}  // namespace

void LoadConfigFile(const std::string& path, Config& c) {
  json doc = json::parse(ReadFile(path), nullptr, false);
  Reader r(path);
  if (doc.is_discarded()) {
    r.Fail("", "not valid JSON");
  }
  r.Object(
      doc, "", {"addr", "root", "tls", "auth", "storage", "proxy", "log"},
      [&](const std::string& key, const json& v, const std::string& at) {
        if (key == "addr") {
          c.addr = r.Str(v, at);
        } else if (key == "root") {
          c.root = r.Str(v, at);
        } else if (key == "tls") {
          r.Object(v, at, {"cert", "key"},
                   [&](const std::string& k, const json& x, const std::string& w) {
                     (k == "cert" ? c.tls_cert : c.tls_key) = r.Str(x, w);
                   });
        } else if (key == "auth") {
          r.Object(v, at, {"htpasswd", "token", "access"},
                   [&](const std::string& k, const json& x, const std::string& w) {
                     if (k == "htpasswd") {
                       c.htpasswd = r.Str(x, w);
                     } else if (k == "token") {
                       c.token_auth = true;
                       r.Object(x, w, {"realm", "service", "issuer", "ttl"},
                                [&](const std::string& tk, const json& tv, const std::string& tw) {
                                  if (tk == "ttl") {
                                    c.token_ttl = r.Int(tv, tw);
                                  } else {
                                    (tk == "realm"     ? c.token_realm
                                     : tk == "service" ? c.token_service
                                                       : c.token_issuer) = r.Str(tv, tw);
                                  }
                                });
                     } else {
                       if (!x.is_array()) {
                         r.Fail(w, "must be an array");
                       }
                       for (size_t i = 0; i < x.size(); ++i) {
                         std::string rw = w + "[" + std::to_string(i) + "]";
                         AccessRule rule;
                         r.Object(
                             x[i], rw, {"user", "repository", "actions"},
                             [&](const std::string& ak, const json& av, const std::string& aw) {
                               if (ak == "actions") {
                                 if (!av.is_array()) {
                                   r.Fail(aw, "must be an array");
                                 }
                                 for (const json& a : av) {
                                   rule.actions.insert(r.Str(a, aw));
                                 }
                               } else {
                                 (ak == "user" ? rule.user : rule.repository) = r.Str(av, aw);
                               }
                             });
                         if (rule.user.empty() || rule.repository.empty()) {
                           r.Fail(rw, "needs a user and a repository");
                         }
                         c.access.push_back(std::move(rule));
                       }
                     }
                   });
        } else if (key == "storage") {
          r.Object(
              v, at,
              {"delete", "upload_expiry", "upload_purge_interval", "max_uploads", "gc_on_start"},
              [&](const std::string& k, const json& x, const std::string& w) {
                if (k == "delete") {
                  c.delete_enabled = r.Bool(x, w);
                } else if (k == "gc_on_start") {
                  c.gc_on_start = r.Bool(x, w);
                } else if (k == "upload_expiry") {
                  c.upload_expiry = r.Int(x, w);
                } else if (k == "upload_purge_interval") {
                  c.upload_purge_interval = r.Int(x, w);
                } else {
                  c.max_uploads = static_cast<size_t>(r.Int(x, w));
                }
              });
        } else if (key == "proxy") {
          r.Object(v, at, {"remote", "username", "password"},
                   [&](const std::string& k, const json& x, const std::string& w) {
                     (k == "remote"     ? c.proxy_remote
                      : k == "username" ? c.proxy_username
                                        : c.proxy_password) = r.Str(x, w);
                   });
        } else if (key == "log") {
          r.Object(v, at, {"requests", "debug"},
                   [&](const std::string& k, const json& x, const std::string& w) {
                     (k == "requests" ? c.log_requests : c.debug) = r.Bool(x, w);
                   });
        }
      });
  if (c.token_auth && c.htpasswd.empty()) {
    r.Fail("auth.token", "needs auth.htpasswd (the users tokens are issued to)");
  }
}

}  // namespace berth::registry
