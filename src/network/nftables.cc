#include "network/nftables.h"

#include <nftables/libnftables.h>

#include "base/error.h"

namespace berth::network {

Nftables::Nftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (ctx_ == nullptr) {
    throw Error(Kind::kInternal, "nftables: cannot create a context");
  }
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

Nftables::~Nftables() { nft_ctx_free(ctx_); }

void Nftables::Run(std::string_view script) { Output(script); }

std::string Nftables::Output(std::string_view command) {
  std::string buf(command);
  int rc = nft_run_cmd_from_buffer(ctx_, buf.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx_);
  std::string err = nft_ctx_get_error_buffer(ctx_);
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
