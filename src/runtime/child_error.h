#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace berth::runtime {

// What a step between clone and exec reports when it fails: an errno and a short text naming
// the operation and its object. Fixed size, no heap: it is copied into a SyncMsg as is.
struct ChildError {
  int err = 0;
  char text[480] = {0};

  // Records the failure (with errno `e`, 0 for a validation error) and returns false, so a
  // step can `return error.Fail(errno, "mount %s", dest);`.
  __attribute__((format(printf, 3, 4))) bool Fail(int e, const char* fmt, ...) {
    err = e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return false;
  }

  // Puts "prefix " in front of the text, truncating its end if needed.
  void Prefix(const char* prefix) {
    size_t p = strlen(prefix);
    size_t t = strlen(text);
    if (p + 2 >= sizeof(text)) {
      return;
    }
    if (p + 1 + t >= sizeof(text)) {
      t = sizeof(text) - p - 2;
    }
    memmove(text + p + 1, text, t);
    memcpy(text, prefix, p);
    text[p] = ' ';
    text[p + 1 + t] = '\0';
  }
};

}  // namespace berth::runtime
