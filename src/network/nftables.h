#pragma once

#include <string>
#include <string_view>

#include <nftables/libnftables.h>

#include "base/shared_library.h"

namespace berth::network {

// A libnftables context: runs nft scripts in one transaction each (a script either applies
// whole or not at all). The library is loaded for the context's lifetime only: make one for
// a change, not one for the daemon's life (loading costs well under a millisecond; keeping
// libnftables and its dependencies mapped costs an idle berthd about a megabyte).
// Not thread-safe; one per owner.
class Nftables {
 public:
  Nftables();
  ~Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;

  // Runs the script; throws berth::Error with nft's own message on failure.
  void Run(std::string_view script);
  // Runs a command and returns what nft prints ("list table inet berth").
  std::string Output(std::string_view command);
  // Whether `table <family> <name>` exists.
  bool HasTable(std::string_view family, std::string_view name);

 private:
  SharedLibrary lib_;
  decltype(&nft_ctx_new) ctx_new_;
  decltype(&nft_ctx_free) ctx_free_;
  decltype(&nft_ctx_buffer_output) buffer_output_;
  decltype(&nft_ctx_buffer_error) buffer_error_;
  decltype(&nft_ctx_get_output_buffer) output_buffer_;
  decltype(&nft_ctx_get_error_buffer) error_buffer_;
  decltype(&nft_run_cmd_from_buffer) run_;
  nft_ctx* ctx_ = nullptr;
};

}  // namespace berth::network
