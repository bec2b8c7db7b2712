#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::network::dns {

// A minimal DNS message model (RFC 1035) for the embedded server: enough to read a query,
// answer A/AAAA from Berth's own records and pass the rest to an upstream resolver untouched.
// Names are in presentation form, without the final dot ("web.example"); a label byte that
// is '.', '\\' or not printable is written as \DDD, as in zone files.

enum Type : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kPtr = 12,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,
  kAny = 255
};
enum Class : uint16_t { kIn = 1 };
enum Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5
};

struct Question {
  std::string name;
  uint16_t type = kA;
  uint16_t klass = kIn;
  bool operator==(const Question&) const = default;
};

struct Record {
  std::string name;
  uint16_t type = kA;
  uint16_t klass = kIn;
  uint32_t ttl = 0;
  std::string rdata;  // raw bytes (names inside are not decompressed)
  bool operator==(const Record&) const = default;
};

struct Message {
  uint16_t id = 0;
  bool qr = false;  // a response
  uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false;
  uint8_t rcode = kNoError;
  std::vector<Question> questions;
  std::vector<Record> answers, authority, additional;
  bool operator==(const Message&) const = default;
};

// Parses a message from the wire, following compression pointers (forward and looping ones
// refused); throws kInvalidArgument on anything malformed or truncated.
Message Parse(std::string_view wire);

// The wire form, without compression; throws kInvalidArgument on a name that cannot be
// encoded (a label over 63 bytes, a name over 255) or a record section over 65535 entries.
std::string Encode(const Message& m);

// The id of a query, when it has at least a header (to answer FORMERR to a bad one).
bool PeekId(std::string_view wire, uint16_t* id);

// A response to `query`: same id, opcode, RD and question; RA set.
Message MakeResponse(const Message& query, uint8_t rcode);

// RDATA of A and AAAA records from 4 or 16 address bytes.
std::string AddressRdata(const uint8_t* bytes, size_t len);

// Lowercases ASCII letters; DNS names compare case-insensitively.
std::string Lower(std::string_view name);

}  // namespace berth::network::dns
