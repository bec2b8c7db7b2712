#include "network/nftables.h"

#include "base/error.h"

namespace berth::network {

Nftables::Nftables() : lib_("libnftables.so.1") {
  lib_.Bind("nft_ctx_new", ctx_new_);
  lib_.Bind("nft_ctx_free", ctx_free_);
  lib_.Bind("nft_ctx_buffer_output", buffer_output_);
  lib_.Bind("nft_ctx_buffer_error", buffer_error_);
  lib_.Bind("nft_ctx_get_output_buffer", output_buffer_);
  lib_.Bind("nft_ctx_get_error_buffer", error_buffer_);
  lib_.Bind("nft_run_cmd_from_buffer", run_);
  ctx_ = ctx_new_(NFT_CTX_DEFAULT);
  if (ctx_ == nullptr) {
    throw Error(Kind::kInternal, "nftables: cannot create a context");
  }
  buffer_output_(ctx_);
  buffer_error_(ctx_);
}

Nftables::~Nftables() { ctx_free_(ctx_); }

void Nftables::Run(std::string_view script) { Output(script); }

std::string Nftables::Output(std::string_view command) {
  std::string buf(command);
  int rc = run_(ctx_, buf.c_str());
  std::string out = output_buffer_(ctx_);
  std::string err = error_buffer_(ctx_);
  if (rc != 0) {
    while (!err.empty() && err.back() == '\n') {
      err.pop_back();
    }
    throw Error(Kind::kInternal, "nftables: " + (err.empty() ? std::string("failed") : err));
  }
  return out;
}

bool Nftables::HasTable(std::string_view family, std::string_view name) {
  std::string out = Output("list tables " + std::string(family));
  std::string want = "table " + std::string(family) + " " + std::string(name) + "\n";
  return out.find(want) != std::string::npos;
}

}  // namespace berth::network
