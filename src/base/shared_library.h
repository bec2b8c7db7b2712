#pragma once

#include <string>

namespace berth {

// A shared library opened at run time. berthd maps libraries that only some requests need
// (libcurl and its TLS stack for pull and push, libnftables for rule changes) while it uses
// them rather than from start to exit: they would be most of an idle daemon's memory.
class SharedLibrary {
 public:
  // Opens `soname` with every symbol bound now; throws berth::Error (kUnavailable) naming the
  // library and the loader's reason when it is missing or broken.
  explicit SharedLibrary(std::string soname);
  // Closes it; the loader unmaps it when nothing else holds it.
  ~SharedLibrary();
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  // Points `fn` at the function `symbol`; throws when the library has no such symbol.
  template <typename F>
  void Bind(const char* symbol, F*& fn) const {
    fn = reinterpret_cast<F*>(Find(symbol));
  }

 private:
  void* Find(const char* symbol) const;

  std::string soname_;
  void* handle_;
};

}  // namespace berth
