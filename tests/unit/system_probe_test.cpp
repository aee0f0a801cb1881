// The Linux SystemProbe on a temporary root and a fake sysfs, and against this host's kernel.
#include "mamori/platform/system_probe.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "fake_sysfs.h"
#include "security_updates.h"
#include "temp_dir.h"

namespace mamori::platform {
namespace {

class SystemProbeTest : public ::testing::Test {
 protected:
  void Write(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(root_.path() + path).parent_path());
    std::ofstream(root_.path() + path) << content;
  }
  testing::TempDir root_;
  testing::FakeSysfs sysfs_;
  std::unique_ptr<SystemProbe> probe_ = NewLinuxSystemProbe(root_.path(), sysfs_.root());
};

TEST_F(SystemProbeTest, ReadsEveryRootHubsAuthorizedDefault) {
  sysfs_.AddRootHub(1);
  sysfs_.AddRootHub(2);
  sysfs_.AddRootHub(3);
  sysfs_.AddDevice("2-1", {});
  sysfs_.Write(sysfs_.DevicePath("usb1") + "/authorized_default", "0\n");
  sysfs_.Write(sysfs_.DevicePath("usb3") + "/authorized_default", "banana\n");
  bool present = false;
  std::vector<RootHubDefault> hubs;
  ASSERT_TRUE(probe_->UsbRootHubDefaults(&present, &hubs).ok());
  EXPECT_TRUE(present);
  ASSERT_EQ(hubs.size(), 3u);
  EXPECT_EQ(hubs[0].hub, "usb1");
  EXPECT_EQ(hubs[0].value, 0);
  EXPECT_EQ(hubs[1].hub, "usb2");
  EXPECT_EQ(hubs[1].value, 1);  // what FakeSysfs (and the kernel) start with
  EXPECT_EQ(hubs[2].value, -1);
  EXPECT_NE(hubs[2].error.find("usb3/authorized_default: unexpected value \"banana\""),
            std::string::npos)
      << hubs[2].error;
}

TEST_F(SystemProbeTest, NoUsbBusIsReportedAsAbsent) {
  auto probe = NewLinuxSystemProbe(root_.path(), root_.path() + "/sys");
  bool present = true;
  std::vector<RootHubDefault> hubs;
  ASSERT_TRUE(probe->UsbRootHubDefaults(&present, &hubs).ok());
  EXPECT_FALSE(present);
  EXPECT_TRUE(hubs.empty());
}

TEST_F(SystemProbeTest, ParsesBothRoutingTables) {
  // As this machine's kernel prints them: a default route via 192.0.2.1 and its /24.
  Write("/proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth1\t0000140A\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
  Write("/proc/net/ipv6_route",
        "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
        "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
        "fd000000000000000000000000000002 80 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth0\n");
  std::vector<Route> routes;
  ASSERT_TRUE(probe_->Routes(&routes).ok());
  ASSERT_EQ(routes.size(), 6u);
  EXPECT_EQ(routes[0].prefix, 0);
  EXPECT_TRUE(routes[0].via_gateway);
  EXPECT_EQ(routes[1].destination[0], 192);
  EXPECT_EQ(routes[1].destination[2], 2);
  EXPECT_EQ(routes[1].prefix, 24);
  EXPECT_FALSE(routes[1].via_gateway);
  EXPECT_EQ(routes[2].destination[0], 10);
  EXPECT_EQ(routes[2].destination[1], 20);
  EXPECT_EQ(routes[2].prefix, 16);
  EXPECT_TRUE(routes[2].reject);
  EXPECT_TRUE(routes[3].v6);
  EXPECT_EQ(routes[3].destination[0], 0xfd);
  EXPECT_EQ(routes[3].prefix, 64);
  EXPECT_FALSE(routes[3].local);
  EXPECT_EQ(routes[4].device, "lo");
  EXPECT_EQ(routes[4].destination[15], 1);
  EXPECT_EQ(routes[4].prefix, 128);
  EXPECT_TRUE(routes[5].local);  // this host's own fd00::2 in the local table
  EXPECT_EQ(routes[5].device, "eth0");
}

TEST_F(SystemProbeTest, MalformedRouteLineIsAnErrorNamingFileAndLine) {
  Write("/proc/net/route", "Iface\tDestination\n eth0\tZZZZ\n");
  std::vector<Route> routes;
  Status s = probe_->Routes(&routes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/proc/net/route: line 2"), std::string::npos) << s.message();
}

TEST_F(SystemProbeTest, MissingFileIsEnoentNamingTheHostPath) {
  std::string text;
  Status s = probe_->ReadFile("/etc/pam.d/login", 4096, &text);
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.message().find("/etc/pam.d/login"), std::string::npos);
  EXPECT_EQ(s.message().find(root_.path()), std::string::npos) << s.message();
}

TEST_F(SystemProbeTest, HashesAndLinks) {
  Write("/bin/tool", "hello\n");
  std::string sha256, md5;
  ASSERT_TRUE(probe_->HashFile("/bin/tool", &sha256, &md5).ok());
  EXPECT_EQ(sha256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  EXPECT_EQ(md5, "b1946ac92492d2347c6235b4d2611184");
  std::filesystem::create_symlink("/bin/tool", root_.path() + "/link");
  std::string target;
  ASSERT_TRUE(probe_->ReadLink("/link", &target).ok());
  EXPECT_EQ(target, "/bin/tool");
  EXPECT_EQ(probe_->ReadLink("/bin/tool", &target).err(), EINVAL);
  EXPECT_FALSE(probe_->SystemdBooted());
  std::filesystem::create_directories(root_.path() + "/run/systemd/system");
  EXPECT_TRUE(probe_->SystemdBooted());
}

// The digest is remembered per file identity; a file changed in place (same inode) is hashed
// again, and so is one replaced by another file.
TEST_F(SystemProbeTest, HashOfAChangedFileIsNotServedFromTheCache) {
  Write("/bin/tool", "hello\n");
  std::string sha256, md5, again;
  ASSERT_TRUE(probe_->HashFile("/bin/tool", &sha256, &md5).ok());
  ASSERT_TRUE(probe_->HashFile("/bin/tool", &again, &md5).ok());
  EXPECT_EQ(again, sha256);
  {
    std::ofstream out(root_.path() + "/bin/tool", std::ios::app);
    out << "more\n";
  }
  ASSERT_TRUE(probe_->HashFile("/bin/tool", &again, &md5).ok());
  EXPECT_EQ(again, "6052eef1a76d3ff777269e8a1720524953b74c4d96e4689679c8982699a32beb");
  Write("/bin/tool.new", "hello\n");
  std::filesystem::rename(root_.path() + "/bin/tool.new", root_.path() + "/bin/tool");
  ASSERT_TRUE(probe_->HashFile("/bin/tool", &again, &md5).ok());
  EXPECT_EQ(again, sha256);
}

TEST_F(SystemProbeTest, SecurityUpdatesWithoutSecurityListsDoNotRunApt) {
  Write("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "x");
  SecurityUpdates updates;
  ASSERT_TRUE(probe_->PendingSecurityUpdates(&updates).ok());
  EXPECT_FALSE(updates.source_configured);
  EXPECT_TRUE(updates.packages.empty());
}

TEST(SecurityUpdatesParse, TakesOnlyInstallsFromASecuritySuite) {
  const auto names = SecurityPackagesFromSimulation(
      "Reading package lists...\n"
      "Inst libssl3 [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security "
      "[amd64])\n"
      "Inst tzdata [2025a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/oldstable [all])\n"
      "Conf libssl3 (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])\n"
      "Inst openssl [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security "
      "[amd64]) []\n");
  EXPECT_EQ(names, (std::vector<std::string>{"libssl3", "openssl"}));
}

// --- this host's real kernel and files ---------------------------------------------------------

TEST(SystemProbeRealHost, ClockRoutesFilesAndSelf) {
  auto probe = NewLinuxSystemProbe();
  ClockSync clock;
  Status s = probe->ClockStatus(&clock);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GE(clock.max_error_us, 0);
  if (!clock.unsynchronized) {
    EXPECT_LT(clock.max_error_us, 16 * 1000000 + 1);  // the kernel gives up sync at 16 s
  }

  std::vector<Route> routes;
  s = probe->Routes(&routes);
  ASSERT_TRUE(s.ok()) << s.message();
  for (const Route& r : routes) {
    EXPECT_LE(r.prefix, r.v6 ? 128 : 32);
    EXPECT_FALSE(r.device.empty());
  }

  std::string text;
  s = probe->ReadFile("/etc/passwd", 16 << 20, &text);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_NE(text.find("root:"), std::string::npos);

  std::string self, sha256, md5;
  ASSERT_TRUE(probe->SelfExecutable(&self).ok());
  EXPECT_NE(self.find("platform_system_probe_tests"), std::string::npos) << self;
  ASSERT_TRUE(probe->HashFile(self, &sha256, &md5).ok());
  EXPECT_EQ(sha256.size(), 64u);
  EXPECT_EQ(md5.size(), 32u);

  bool present = false;
  std::vector<RootHubDefault> hubs;
  ASSERT_TRUE(probe->UsbRootHubDefaults(&present, &hubs).ok());
  struct stat st;
  EXPECT_EQ(present, ::stat("/sys/bus/usb", &st) == 0);
}

}  // namespace
}  // namespace mamori::platform
