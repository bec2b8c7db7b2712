#pragma once

#include <string>
#include <string_view>

struct nft_ctx;

namespace berth::network {

// A libnftables context: runs nft scripts in one transaction each (a script either applies
// whole or not at all). Not thread-safe; one per owner.
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
  nft_ctx* ctx_;
};

}  // namespace berth::network
