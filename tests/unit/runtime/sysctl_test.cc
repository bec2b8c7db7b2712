#include "runtime/sysctl.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::runtime {
namespace {

oci::Linux WithNamespaces(std::initializer_list<oci::NamespaceType> types) {
  oci::Linux l;
  for (auto t : types) {
    l.namespaces.push_back({t, ""});
  }
  return l;
}

void ExpectRefused(const oci::Linux& l, const std::string& needle) {
  try {
    ValidateSysctls(l);
    ADD_FAILURE() << "accepted, expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SysctlTest, NamespacedSysctlsWithTheirNamespace) {
  oci::Linux l = WithNamespaces(
      {oci::NamespaceType::kIpc, oci::NamespaceType::kNetwork, oci::NamespaceType::kUts});
  l.sysctl = {{"kernel.shmmax", "1"},
              {"fs.mqueue.msg_max", "10"},
              {"net.ipv4.ip_forward", "1"},
              {"net.ipv4.conf.eth0/1.forwarding", "1"},
              {"kernel.domainname", "x"}};
  EXPECT_NO_THROW(ValidateSysctls(l));
}

TEST(SysctlTest, NeedsTheOwningNamespace) {
  oci::Linux l = WithNamespaces({oci::NamespaceType::kMount});
  l.sysctl = {{"net.ipv4.ip_forward", "1"}};
  ExpectRefused(l, "linux.sysctl.net.ipv4.ip_forward: needs a network namespace");
  l.sysctl = {{"kernel.sem", "1 2 3 4"}};
  ExpectRefused(l, "linux.sysctl.kernel.sem: needs a ipc namespace");
}

TEST(SysctlTest, HostGlobalSysctlsAreRefused) {
  oci::Linux l = WithNamespaces({oci::NamespaceType::kIpc, oci::NamespaceType::kNetwork});
  for (const char* key : {"kernel.panic", "vm.overcommit_memory", "fs.file-max"}) {
    l.sysctl = {{key, "1"}};
    ExpectRefused(l, "not namespaced");
  }
}

TEST(SysctlTest, BadKeysAndValues) {
  oci::Linux l = WithNamespaces({oci::NamespaceType::kNetwork});
  for (const char* key : {"net..ipv4", "net./../../kernel.panic", ".net", "net.", "net.a b"}) {
    l.sysctl = {{key, "1"}};
    ExpectRefused(l, "not a sysctl name");
  }
  l.sysctl = {{"net.ipv4.ip_forward", "1\n2"}};
  ExpectRefused(l, "one line");
}

}  // namespace
}  // namespace berth::runtime
