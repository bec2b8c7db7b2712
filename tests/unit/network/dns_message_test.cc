#include "network/dns_message.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "network/dns_server.h"

namespace berth::network {
namespace {

using namespace std::string_literals;

dns::Message Query(const std::string& name, uint16_t type, uint16_t id = 0x1234) {
  dns::Message m;
  m.id = id;
  m.rd = true;
  m.questions.push_back({name, type, dns::kIn});
  return m;
}

TEST(DnsMessage, EncodeParseRoundTrip) {
  dns::Message m = Query("Web.Example", dns::kA);
  m.additional.push_back({"", dns::kOpt, 1232, 0, ""});
  std::string wire = dns::Encode(m);
  EXPECT_EQ(wire.substr(0, 12), "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"s);
  EXPECT_EQ(wire.substr(12, 13), "\x03Web\x07\x45xample\x00"s);
  EXPECT_EQ(dns::Parse(wire), m);
}

TEST(DnsMessage, EscapedLabelsRoundTrip) {
  dns::Message m = Query("a\\046b.c\\092d\\000", dns::kTxt);
  std::string wire = dns::Encode(m);
  EXPECT_EQ(wire.substr(12, 10), "\x03\x61.b\x04\x63\\d\x00\x00"s);
  EXPECT_EQ(dns::Parse(wire).questions[0].name, "a\\046b.c\\092d\\000");
}

TEST(DnsMessage, FollowsCompressionPointers) {
  // A response: question "db.net", answer name = pointer to offset 12.
  std::string wire =
      "\xab\xcd\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"s
      "\x02\x64\x62\x03net\x00\x00\x01\x00\x01"s
      "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07"s;
  dns::Message m = dns::Parse(wire);
  EXPECT_TRUE(m.qr);
  EXPECT_TRUE(m.ra);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "db.net");
  EXPECT_EQ(m.answers[0].ttl, 60u);
  EXPECT_EQ(m.answers[0].rdata, "\x0a\x00\x00\x07"s);
}

void ExpectBad(const std::string& wire) {
  try {
    dns::Parse(wire);
    ADD_FAILURE() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
}

TEST(DnsMessage, RefusesMalformed) {
  ExpectBad("\x00\x01");                                           // short header
  ExpectBad("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"s);  // question missing
  ExpectBad(
      "\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05"
      "ab"s);  // label past end
  // A pointer to itself, and a pointer forward.
  ExpectBad("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"s);
  ExpectBad("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x10\x00\x01\x00\x01"s);
  // Reserved label type.
  ExpectBad("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x40\x00\x00\x01\x00\x01"s);
  // A record whose rdata runs past the end.
  ExpectBad(
      "\x00\x01\x80\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01"s
      "\x00\x00\x00\x00\x00\x09\x01"s);
  // 65535 questions announced in a tiny message.
  ExpectBad("\x00\x01\x00\x00\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"s);
}

TEST(DnsMessage, RefusesUnencodableNames) {
  EXPECT_THROW(dns::Encode(Query(std::string(64, 'a'), dns::kA)), Error);
  EXPECT_THROW(dns::Encode(Query("a..b", dns::kA)), Error);
  std::string long_name;
  for (int i = 0; i < 50; ++i) {
    long_name += "abcd.";
  }
  long_name += "abcdefghij";
  EXPECT_THROW(dns::Encode(Query(long_name, dns::kA)), Error);
  EXPECT_NO_THROW(dns::Encode(Query("", dns::kNs)));
  EXPECT_NO_THROW(dns::Encode(Query("a.b.", dns::kA)));
}

class DnsAnswer : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.Upsert("n1/web", {"n1", {"web", "www"}, {A("10.1.0.2"), A("fd00:1::2")}, {}});
    table_.Upsert("n1/db", {"n1", {"DB"}, {A("10.1.0.3")}, {A("9.9.9.9")}});
    table_.Upsert("n2/other", {"n2", {"other"}, {A("10.2.0.2")}, {}});
  }
  static IpAddress A(const char* s) { return *IpAddress::Parse(s); }
  dns::Message Ask(const char* from, const std::string& name, uint16_t type,
                   std::vector<IpAddress>* upstreams = nullptr) {
    std::vector<IpAddress> up;
    auto r = AnswerLocally(table_, A(from), dns::Encode(Query(name, type)), 600, &up);
    if (upstreams) {
      *upstreams = up;
    }
    if (!r) {
      dns::Message forwarded;
      forwarded.id = 0xffff;  // marks "forwarded"
      return forwarded;
    }
    return dns::Parse(*r);
  }
  DnsTable table_;
};

TEST_F(DnsAnswer, PeersByNameAndAlias) {
  dns::Message r = Ask("10.1.0.3", "WWW", dns::kA);
  EXPECT_EQ(r.id, 0x1234);
  EXPECT_TRUE(r.qr);
  EXPECT_TRUE(r.aa);
  EXPECT_EQ(r.rcode, dns::kNoError);
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].name, "WWW");
  EXPECT_EQ(r.answers[0].rdata, "\x0a\x01\x00\x02"s);
  EXPECT_EQ(r.answers[0].ttl, 600u);
  r = Ask("10.1.0.2", "db.", dns::kA);
  ASSERT_EQ(r.answers.size(), 1u);
  r = Ask("10.1.0.3", "web", dns::kAaaa);
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].rdata.size(), 16u);
}

TEST_F(DnsAnswer, NoDataForOtherTypesOfAPeer) {
  dns::Message r = Ask("10.1.0.3", "db", dns::kAaaa);
  EXPECT_EQ(r.rcode, dns::kNoError);
  EXPECT_TRUE(r.answers.empty());
  r = Ask("10.1.0.3", "web", dns::kMx);
  EXPECT_EQ(r.rcode, dns::kNoError);
  EXPECT_TRUE(r.answers.empty());
}

TEST_F(DnsAnswer, OtherNetworksNamesAreForwarded) {
  std::vector<IpAddress> up;
  dns::Message r = Ask("10.1.0.2", "other", dns::kA, &up);
  EXPECT_EQ(r.id, 0xffff);
  EXPECT_TRUE(up.empty());  // the server's defaults
  r = Ask("10.1.0.3", "example.com", dns::kA, &up);
  EXPECT_EQ(r.id, 0xffff);
  EXPECT_EQ(up, std::vector{A("9.9.9.9")});  // db's --dns
}

TEST_F(DnsAnswer, UnknownSourcesAreRefused) {
  EXPECT_EQ(Ask("192.0.2.9", "web", dns::kA).rcode, dns::kRefused);
  table_.Remove("n1/db");
  EXPECT_EQ(Ask("10.1.0.3", "web", dns::kA).rcode, dns::kRefused);
}

TEST_F(DnsAnswer, BadQueries) {
  std::vector<IpAddress> up;
  auto r = AnswerLocally(table_, A("10.1.0.2"),
                         "\x12\x34\x01\x00\x00\x01\x00\x00"s
                         "\x00\x00\x00\x00\x05"s,
                         600, &up);
  ASSERT_TRUE(r);
  EXPECT_EQ(dns::Parse(*r).rcode, dns::kFormErr);
  EXPECT_EQ(dns::Parse(*r).id, 0x1234);
  r = AnswerLocally(table_, A("10.1.0.2"), "\x12", 600, &up);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());  // dropped
  dns::Message two = Query("web", dns::kA);
  two.questions.push_back(two.questions[0]);
  r = AnswerLocally(table_, A("10.1.0.2"), dns::Encode(two), 600, &up);
  EXPECT_EQ(dns::Parse(*r).rcode, dns::kFormErr);
}

}  // namespace
TEST(DnsTableSources, AContainerOnTwoNetworksResolvesBoth) {
  DnsTable t;
  IpAddress a1 = *IpAddress::Parse("10.1.0.5"), b1 = *IpAddress::Parse("10.2.0.5");
  IpAddress web = *IpAddress::Parse("10.2.0.9");
  t.Upsert("A/c", {"A", {"client"}, {a1}, {}, {b1}});
  t.Upsert("B/c", {"B", {"client"}, {b1}, {}, {a1}});
  t.Upsert("B/w", {"B", {"web"}, {web}, {}, {}});
  // Asking from its address on A (where its resolver is), it finds a peer on B.
  DnsTable::Answer a = t.Lookup(a1, "web", false);
  EXPECT_TRUE(a.known_source);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0], web);
  // Its other addresses are no answers: "client" is each network's own address.
  a = t.Lookup(web, "client", false);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0], b1);
  t.Upsert("A/c", {"A", {"client"}, {a1}, {}, {}});
  t.Remove("B/c");
  EXPECT_FALSE(t.Lookup(a1, "web", false).name_found);
}

}  // namespace berth::network
