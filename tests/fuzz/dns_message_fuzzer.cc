// DNS queries come from any container on a network: parse or refuse with berth::Error; what
// parses must encode, and the encoding must parse back to the same message. The embedded
// server's answer path runs on the same bytes and must never throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.h"
#include "network/dns_message.h"
#include "network/dns_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::network;
  std::string_view wire(reinterpret_cast<const char*>(data), size);

  static DnsTable* table = [] {
    auto* t = new DnsTable;
    t->Upsert("n/a", {"n", {"web", "db"}, {*IpAddress::Parse("10.0.0.2")}, {}});
    return t;
  }();
  std::vector<IpAddress> upstreams;
  try {
    AnswerLocally(*table, *IpAddress::Parse("10.0.0.2"), wire, 600, &upstreams);
  } catch (...) {
    abort();  // the server answers FORMERR or drops; it never throws
  }

  dns::Message m;
  try {
    m = dns::Parse(wire);
  } catch (const berth::Error&) {
    return 0;
  }
  std::string encoded;
  try {
    encoded = dns::Encode(m);
  } catch (const berth::Error&) {
    return 0;  // e.g. a name whose escaped form exceeds what Encode accepts: never the case
  }
  if (!(dns::Parse(encoded) == m)) {
    abort();
  }
  return 0;
}
