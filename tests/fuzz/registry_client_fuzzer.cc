// What a registry and a client send the registry client: WWW-Authenticate challenges, error
// bodies and X-Registry-Auth headers. Parse or refuse with berth::Error, never crash; a
// decoded credential encodes and decodes back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.h"
#include "registry/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  berth::registry::ParseChallenge(text);
  berth::registry::ClientReply reply;
  reply.status = 404;
  reply.body = std::string(text);
  berth::registry::RegistryErrorText(reply);
  berth::registry::ResolveUrl("http://127.0.0.1:5000/v2/a/blobs/uploads/", std::string(text));
  try {
    berth::registry::AuthConfig a = berth::registry::DecodeRegistryAuth(text);
    berth::registry::AuthConfig b =
        berth::registry::DecodeRegistryAuth(berth::registry::EncodeRegistryAuth(a));
    if (a.username != b.username || a.password != b.password ||
        a.server_address != b.server_address || a.identity_token != b.identity_token ||
        a.registry_token != b.registry_token) {
      abort();
    }
  } catch (const berth::Error&) {
  }
  return 0;
}
