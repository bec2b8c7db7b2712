#include "network/dns_message.h"

#include "base/error.h"

namespace berth::network::dns {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxName = 255;  // wire length, labels and length bytes

class Reader {
 public:
  explicit Reader(std::string_view wire) : w_(wire) {}

  uint8_t U8() {
    Need(1);
    return static_cast<uint8_t>(w_[pos_++]);
  }
  uint16_t U16() {
    Need(2);
    uint16_t v = static_cast<uint16_t>(static_cast<uint8_t>(w_[pos_]) << 8 |
                                       static_cast<uint8_t>(w_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    uint32_t hi = U16();
    return hi << 16 | U16();
  }
  std::string Bytes(size_t n) {
    Need(n);
    std::string s(w_.substr(pos_, n));
    pos_ += n;
    return s;
  }

  // A possibly compressed name. Pointers must go backwards (before the name's start), which
  // bounds the walk and refuses loops.
  std::string Name() {
    std::string out;
    size_t wire_len = 0;
    size_t pos = pos_;
    size_t limit = pos_;  // pointers must point before this
    bool jumped = false;
    for (;;) {
      if (pos >= w_.size()) {
        Bad("name runs past the end");
      }
      uint8_t len = static_cast<uint8_t>(w_[pos]);
      if ((len & 0xc0) == 0xc0) {
        if (pos + 1 >= w_.size()) {
          Bad("truncated compression pointer");
        }
        size_t target = (len & 0x3f) << 8 | static_cast<uint8_t>(w_[pos + 1]);
        if (target >= limit) {
          Bad("compression pointer does not point backwards");
        }
        if (!jumped) {
          pos_ = pos + 2;
          jumped = true;
        }
        limit = target;
        pos = target;
        continue;
      }
      if ((len & 0xc0) != 0) {
        Bad("unsupported label type");
      }
      wire_len += len + 1;
      if (wire_len > kMaxName) {
        Bad("name longer than 255 bytes");
      }
      if (len == 0) {
        if (!jumped) {
          pos_ = pos + 1;
        }
        return out;
      }
      if (pos + 1 + len > w_.size()) {
        Bad("label runs past the end");
      }
      if (!out.empty()) {
        out += '.';
      }
      for (size_t i = 0; i < len; ++i) {
        AppendEscaped(out, static_cast<uint8_t>(w_[pos + 1 + i]));
      }
      pos += 1 + len;
    }
  }

  size_t pos() const { return pos_; }
  size_t size() const { return w_.size(); }

 private:
  static void AppendEscaped(std::string& out, uint8_t c) {
    if (c == '.' || c == '\\' || c <= 0x20 || c >= 0x7f) {
      char buf[5];
      buf[0] = '\\';
      buf[1] = static_cast<char>('0' + c / 100);
      buf[2] = static_cast<char>('0' + c / 10 % 10);
      buf[3] = static_cast<char>('0' + c % 10);
      out.append(buf, 4);
    } else {
      out += static_cast<char>(c);
    }
  }
  void Need(size_t n) {
    if (w_.size() - pos_ < n) {
      Bad("message truncated");
    }
  }
  [[noreturn]] static void Bad(const char* what) {
    ThrowInvalid(std::string("DNS message: ") + what);
  }

  std::string_view w_;
  size_t pos_ = 0;
};

void PutU16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

void PutName(std::string& out, std::string_view name) {
  size_t start = out.size();
  std::string label;
  auto flush = [&] {
    if (label.empty()) {
      ThrowInvalid("DNS name \"" + std::string(name) + "\": empty label");
    }
    if (label.size() > 63) {
      ThrowInvalid("DNS name \"" + std::string(name) + "\": label longer than 63 bytes");
    }
    out += static_cast<char>(label.size());
    out += label;
    label.clear();
  };
  if (name == ".") {
    name = "";
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      flush();
    } else if (c == '\\') {
      if (i + 3 < name.size() + 0 && isdigit(static_cast<unsigned char>(name[i + 1])) &&
          isdigit(static_cast<unsigned char>(name[i + 2])) &&
          isdigit(static_cast<unsigned char>(name[i + 3]))) {
        int v = (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
        if (v > 255) {
          ThrowInvalid("DNS name \"" + std::string(name) + "\": bad escape");
        }
        label += static_cast<char>(v);
        i += 3;
      } else if (i + 1 < name.size()) {
        label += name[++i];
      } else {
        ThrowInvalid("DNS name \"" + std::string(name) + "\": trailing backslash");
      }
    } else {
      label += c;
    }
  }
  if (!label.empty()) {
    flush();
  } else if (!name.empty() && name.back() != '.') {
    flush();  // reports the empty label
  }
  out += '\0';
  if (out.size() - start > kMaxName) {
    ThrowInvalid("DNS name \"" + std::string(name) + "\": longer than 255 bytes");
  }
}

void PutRecords(std::string& out, const std::vector<Record>& rs) {
  for (const auto& r : rs) {
    PutName(out, r.name);
    PutU16(out, r.type);
    PutU16(out, r.klass);
    PutU16(out, static_cast<uint16_t>(r.ttl >> 16));
    PutU16(out, static_cast<uint16_t>(r.ttl & 0xffff));
    if (r.rdata.size() > 65535) {
      ThrowInvalid("DNS record data longer than 65535 bytes");
    }
    PutU16(out, static_cast<uint16_t>(r.rdata.size()));
    out += r.rdata;
  }
}

std::vector<Record> ReadRecords(Reader& r, uint16_t count) {
  std::vector<Record> out;
  for (uint16_t i = 0; i < count; ++i) {
    Record rec;
    rec.name = r.Name();
    rec.type = r.U16();
    rec.klass = r.U16();
    rec.ttl = r.U32();
    rec.rdata = r.Bytes(r.U16());
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace

Message Parse(std::string_view wire) {
  Reader r(wire);
  Message m;
  m.id = r.U16();
  uint16_t flags = r.U16();
  m.qr = flags & 0x8000;
  m.opcode = (flags >> 11) & 0xf;
  m.aa = flags & 0x0400;
  m.tc = flags & 0x0200;
  m.rd = flags & 0x0100;
  m.ra = flags & 0x0080;
  m.rcode = flags & 0xf;
  uint16_t qd = r.U16(), an = r.U16(), ns = r.U16(), ar = r.U16();
  // Each question takes at least 5 bytes: refuse counts the message cannot hold before
  // reserving anything.
  if (size_t(qd) * 5 > wire.size()) {
    ThrowInvalid("DNS message: question count exceeds the message");
  }
  for (uint16_t i = 0; i < qd; ++i) {
    Question q;
    q.name = r.Name();
    q.type = r.U16();
    q.klass = r.U16();
    m.questions.push_back(std::move(q));
  }
  m.answers = ReadRecords(r, an);
  m.authority = ReadRecords(r, ns);
  m.additional = ReadRecords(r, ar);
  return m;
}

std::string Encode(const Message& m) {
  if (m.questions.size() > 65535 || m.answers.size() > 65535 || m.authority.size() > 65535 ||
      m.additional.size() > 65535) {
    ThrowInvalid("DNS message: too many entries in a section");
  }
  std::string out;
  out.reserve(kHeaderSize + 64);
  PutU16(out, m.id);
  uint16_t flags = static_cast<uint16_t>(
      (m.qr ? 0x8000 : 0) | (m.opcode & 0xf) << 11 | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) |
      (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | (m.rcode & 0xf));
  PutU16(out, flags);
  PutU16(out, static_cast<uint16_t>(m.questions.size()));
  PutU16(out, static_cast<uint16_t>(m.answers.size()));
  PutU16(out, static_cast<uint16_t>(m.authority.size()));
  PutU16(out, static_cast<uint16_t>(m.additional.size()));
  for (const auto& q : m.questions) {
    PutName(out, q.name);
    PutU16(out, q.type);
    PutU16(out, q.klass);
  }
  PutRecords(out, m.answers);
  PutRecords(out, m.authority);
  PutRecords(out, m.additional);
  return out;
}

bool PeekId(std::string_view wire, uint16_t* id) {
  if (wire.size() < kHeaderSize) {
    return false;
  }
  *id = static_cast<uint16_t>(static_cast<uint8_t>(wire[0]) << 8 | static_cast<uint8_t>(wire[1]));
  return true;
}

Message MakeResponse(const Message& query, uint8_t rcode) {
  Message r;
  r.id = query.id;
  r.qr = true;
  r.opcode = query.opcode;
  r.rd = query.rd;
  r.ra = true;
  r.rcode = rcode;
  r.questions = query.questions;
  return r;
}

std::string AddressRdata(const uint8_t* bytes, size_t len) {
  return std::string(reinterpret_cast<const char*>(bytes), len);
}

std::string Lower(std::string_view name) {
  std::string s(name);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

}  // namespace berth::network::dns
