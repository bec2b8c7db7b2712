#include "base/shared_library.h"

#include <dlfcn.h>

#include <utility>

#include "base/error.h"

namespace berth {

namespace {

std::string LoaderError() {
  const char* why = dlerror();
  return why != nullptr ? why : "unknown error";
}

}  // namespace

SharedLibrary::SharedLibrary(std::string soname)
    : soname_(std::move(soname)), handle_(dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL)) {
  if (handle_ == nullptr) {
    throw Error(Kind::kUnavailable, "cannot load " + soname_ + ": " + LoaderError());
  }
}

SharedLibrary::~SharedLibrary() { dlclose(handle_); }

void* SharedLibrary::Find(const char* symbol) const {
  dlerror();
  void* p = dlsym(handle_, symbol);
  if (p == nullptr) {
    throw Error(Kind::kUnavailable, soname_ + " has no " + symbol + ": " + LoaderError());
  }
  return p;
}

}  // namespace berth
