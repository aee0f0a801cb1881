// The compliance catalogue, check by check, on a fake probe; PAM stacks and the agent's files on
// real files below a temporary root read by the Linux probe.
#include "mamori/agent/compliance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "fake_system_probe.h"
#include "mamori/policy/text.h"
#include "temp_dir.h"

namespace mamori::agent {
namespace {

using ::testing::AllOf;
using testing::FakeSystemProbe;
using ::testing::HasSubstr;
using ::testing::Not;

CheckOutcome Find(const std::vector<CheckOutcome>& outcomes, const std::string& id) {
  for (const auto& o : outcomes) {
    if (o.id == id) return o;
  }
  ADD_FAILURE() << "no check " << id;
  return {};
}

CheckOutcome RunCheck(const std::string& id, const ComplianceInputs& in,
                      platform::SystemProbe& probe) {
  return Find(RunComplianceChecks(in, probe), id);
}

ComplianceInputs Inputs() {
  ComplianceInputs in;
  in.now = *policy::ParseTimestamp("2026-11-23T09:00:00Z");
  in.enrolled_users = std::vector<std::string>{};
  in.guard_enforcing = true;
  return in;
}

platform::Route Route4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, int prefix,
                       const std::string& dev, bool gateway = false) {
  platform::Route r;
  r.destination[0] = a;
  r.destination[1] = b;
  r.destination[2] = c;
  r.destination[3] = d;
  r.prefix = static_cast<std::uint8_t>(prefix);
  r.device = dev;
  r.via_gateway = gateway;
  return r;
}

TEST(ComplianceCatalogue, EveryCheckIsDescribedAndHasAWellFormedResult) {
  FakeSystemProbe probe;
  const auto outcomes = RunComplianceChecks(Inputs(), probe);
  const std::set<std::string> results = {kPass, kFail, kError, kNotApplicable};
  std::set<std::string> ids;
  for (const auto& o : outcomes) {
    EXPECT_TRUE(ids.insert(o.id).second) << "duplicate id " << o.id;
    EXPECT_THAT(o.clause, ::testing::MatchesRegex("[0-9]+\\([0-9]+\\)[0-9]?\\.[a-z]+")) << o.id;
    EXPECT_FALSE(o.title_ja.empty());
    EXPECT_FALSE(o.title_en.empty());
    EXPECT_EQ(results.count(o.result), 1u) << o.id << ": " << o.result;
    EXPECT_FALSE(o.observed.empty()) << o.id;
  }
  EXPECT_EQ(ids, (std::set<std::string>{"usb.guard", "usb.rules", "mfa.pam", "mfa.enrolled",
                                        "clock.skew", "clock.ntp", "policy.current", "agent.binary",
                                        "agent.unit", "network.egress", "os.security-updates"}));
}

TEST(ComplianceCatalogue, PrefixesSelectChecksInCatalogueOrder) {
  FakeSystemProbe probe;
  std::vector<std::string> ids;
  for (const auto& o : RunComplianceChecks(Inputs(), probe, {"policy.", "mfa.enrolled"})) {
    ids.push_back(o.id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"mfa.enrolled", "policy.current"}));
  EXPECT_EQ(RunComplianceChecks(Inputs(), probe, {}).size(),
            RunComplianceChecks(Inputs(), probe).size());
}

TEST(ComplianceCatalogue, AllCompliantAcceptsOnlyPassAndNotApplicable) {
  EXPECT_TRUE(
      AllCompliant({{"a", "", "", "", kPass, "x"}, {"b", "", "", "", kNotApplicable, "y"}}));
  EXPECT_FALSE(AllCompliant({{"a", "", "", "", kPass, "x"}, {"b", "", "", "", kError, "y"}}));
  EXPECT_FALSE(AllCompliant({{"a", "", "", "", kFail, "x"}}));
}

// --- usb.guard -------------------------------------------------------------------------------

TEST(UsbGuardCheck, NoUsbBusIsNotApplicableWithTheReason) {
  FakeSystemProbe probe;
  const auto o = RunCheck("usb.guard", Inputs(), probe);
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_THAT(o.observed, HasSubstr("no USB bus"));
}

TEST(UsbGuardCheck, MixedHubsFailNamingTheOpenHub) {
  FakeSystemProbe probe;
  probe.bus_present = true;
  probe.hubs = {{"usb1", 0, ""}, {"usb2", 1, ""}, {"usb3", 2, ""}};
  const auto o = RunCheck("usb.guard", Inputs(), probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("usb1=0 usb2=1 usb3=2"));
}

TEST(UsbGuardCheck, AllHubsDenyingPassOnlyWhileTheGuardEnforces) {
  FakeSystemProbe probe;
  probe.bus_present = true;
  probe.hubs = {{"usb1", 0, ""}, {"usb2", 0, ""}};
  ComplianceInputs in = Inputs();
  EXPECT_EQ(RunCheck("usb.guard", in, probe).result, kPass);
  in.guard_enforcing = false;
  EXPECT_EQ(RunCheck("usb.guard", in, probe).result, kFail);
  in.guard_enforcing.reset();
  const auto unknown = RunCheck("usb.guard", in, probe);
  EXPECT_EQ(unknown.result, kError);
  EXPECT_THAT(unknown.observed, HasSubstr("agent state not known"));
}

TEST(UsbGuardCheck, UnreadableHubIsAnErrorNamingIt) {
  FakeSystemProbe probe;
  probe.bus_present = true;
  probe.hubs = {{"usb1", 0, ""}, {"usb2", -1, "open /sys/bus/usb/devices/usb2/authorized_default"}};
  const auto o = RunCheck("usb.guard", Inputs(), probe);
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("usb2/authorized_default"));
}

// --- usb.rules -------------------------------------------------------------------------------

TEST(UsbRulesCheck, SummarizesDefaultActionAndRuleCounts) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  policy::AllowRule rule;
  rule.vid = 0x0781;
  in.policy.usb.allow = {rule, rule, rule};
  in.policy.usb.allow[2].mode = policy::AllowMode::kReadOnly;
  const auto o = RunCheck("usb.rules", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_THAT(o.observed, HasSubstr("mode=enforce default=block allow=2 read-only=1"));
}

TEST(UsbRulesCheck, AuditModeDefaultAllowAndWritableChannelsFail) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  in.policy.usb.mode = policy::EnforcementMode::kAudit;
  auto o = RunCheck("usb.rules", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("audit mode blocks nothing"));

  in = Inputs();
  in.policy.usb.default_action = policy::UsbAction::kAllow;
  in.policy.usb.channels.mmc = policy::UsbAction::kAllow;
  o = RunCheck("usb.rules", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, AllOf(HasSubstr("unknown devices allowed"), HasSubstr("mmc writable")));

  in = Inputs();
  in.policy.usb.default_action = policy::UsbAction::kReadOnly;
  EXPECT_EQ(RunCheck("usb.rules", in, probe).result, kPass);
}

// --- mfa.enrolled ----------------------------------------------------------------------------

TEST(MfaEnrolledCheck, NamedUsersMustAllBeEnrolled) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  in.policy.mfa.users = {"alice", "bob"};
  in.enrolled_users = std::vector<std::string>{"alice", "carol"};
  auto o = RunCheck("mfa.enrolled", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "1 of 2 enrolled; missing: bob");
  in.enrolled_users->push_back("bob");
  o = RunCheck("mfa.enrolled", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "2 of 2 enrolled");
}

TEST(MfaEnrolledCheck, EveryoneMeansTheLocalHumanAccountsAndGroupsExpand) {
  FakeSystemProbe probe;
  probe.files["/etc/passwd"] =
      "root:x:0:0:root:/root:/bin/bash\n"
      "alice:x:1000:1000::/home/alice:/bin/bash\n"
      "svc:x:1001:1001::/nonexistent:/usr/sbin/nologin\n"
      "dave:x:1002:2000::/home/dave:/bin/sh\n"
      "nobody:x:65534:65534::/nonexistent:/bin/sh\n";
  probe.files["/etc/group"] = "zeimu:x:2000:\nshimin:x:2001:root,erin\n";
  ComplianceInputs in = Inputs();
  in.enrolled_users = std::vector<std::string>{"alice"};
  auto o = RunCheck("mfa.enrolled", in, probe);  // users "*" by default
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "1 of 2 enrolled; missing: dave");

  in.policy.mfa.users = {"alice"};
  in.policy.mfa.groups = {"zeimu", "shimin"};  // dave by primary group; root and erin as members
  o = RunCheck("mfa.enrolled", in, probe);
  EXPECT_EQ(o.observed, "1 of 4 enrolled; missing: dave, erin, root");
}

TEST(MfaEnrolledCheck, UnreadableStoreOrAccountsAreErrors) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  in.enrolled_users.reset();
  in.enrolled_error = "/var/lib/mamori/mfa: permission denied";
  auto o = RunCheck("mfa.enrolled", in, probe);
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("/var/lib/mamori/mfa"));
  o = RunCheck("mfa.enrolled", Inputs(), probe);  // "*" and no /etc/passwd
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("/etc/passwd"));
}

TEST(MfaEnrolledCheck, NobodyInScopeIsNotApplicable) {
  FakeSystemProbe probe;
  probe.files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/bash\n";
  EXPECT_EQ(RunCheck("mfa.enrolled", Inputs(), probe).result, kNotApplicable);
}

// --- clock.skew / clock.ntp ------------------------------------------------------------------

TEST(ClockChecks, SkewIsJudgedAgainstThePolicyLimitAndUnknownSkewDoesNotApply) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  EXPECT_EQ(RunCheck("clock.skew", in, probe).result, kNotApplicable);
  in.clock_skew = std::chrono::seconds(30);
  auto o = RunCheck("clock.skew", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "+30 s (limit 60 s)");
  in.clock_skew = std::chrono::seconds(-61);
  o = RunCheck("clock.skew", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "-61 s (limit 60 s)");
}

TEST(ClockChecks, SyncNeedsTheKernelSynchronizedWithinTheSkewLimit) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  EXPECT_EQ(RunCheck("clock.ntp", in, probe).result, kError);
  probe.clock = platform::ClockSync{true, 16000000, 0};
  auto o = RunCheck("clock.ntp", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "unsynchronized (STA_UNSYNC), max error 16 s");
  probe.clock = platform::ClockSync{false, 5000, 100};
  o = RunCheck("clock.ntp", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "synchronized, max error 5 ms");
  probe.clock = platform::ClockSync{false, 61000000, 100};
  EXPECT_EQ(RunCheck("clock.ntp", in, probe).result, kFail);
}

// --- policy.current --------------------------------------------------------------------------

TEST(PolicyCurrentCheck, DefaultsUnverifiedAndExpiredPoliciesFail) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  auto o = RunCheck("policy.current", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("built-in defaults"));

  in.applied_version = 7;
  in.policy.expires_at = *policy::ParseTimestamp("2027-03-31T15:00:00Z");
  EXPECT_EQ(RunCheck("policy.current", in, probe).result, kFail);  // not verified
  in.policy_verified = true;
  o = RunCheck("policy.current", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "version 7, verified, expires 2027-03-31T15:00:00Z");

  in.last_rejection = "rollback: version 6 is below 7";
  EXPECT_THAT(RunCheck("policy.current", in, probe).observed,
              HasSubstr("last offer refused: rollback"));
  in.now = in.policy.expires_at;
  o = RunCheck("policy.current", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("version 7 expired 2027-03-31T15:00:00Z"));
}

// --- network.egress --------------------------------------------------------------------------

TEST(NetworkEgressCheck, WithoutAllowedNetworksReportsTheDefaultRouteAsEvidence) {
  FakeSystemProbe probe;
  probe.routes = {Route4(0, 0, 0, 0, 0, "eth0", true), Route4(192, 0, 2, 0, 24, "eth0")};
  auto o = RunCheck("network.egress", Inputs(), probe);
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_EQ(o.observed, "policy names no allowed_egress; default route: 0.0.0.0/0 via eth0");
  probe.routes.erase(probe.routes.begin());
  EXPECT_THAT(RunCheck("network.egress", Inputs(), probe).observed,
              HasSubstr("default route: absent"));
}

TEST(NetworkEgressCheck, RoutesOutsideTheAllowedNetworksFail) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  in.policy.network.allowed_egress = {*policy::ParseCidr("10.20.0.0/16")};
  platform::Route link_local;
  link_local.v6 = true;
  link_local.destination[0] = 0xfe;
  link_local.destination[1] = 0x80;
  link_local.prefix = 64;
  link_local.device = "eth0";
  platform::Route blackhole = Route4(0, 0, 0, 0, 0, "lo");
  blackhole.device = "eth1";
  blackhole.reject = true;
  platform::Route own_address = link_local;
  own_address.destination[0] = 0xfd;
  own_address.destination[1] = 0;
  own_address.destination[15] = 2;
  own_address.prefix = 128;
  own_address.local = true;
  probe.routes = {Route4(10, 20, 1, 0, 24, "eth0"), Route4(10, 20, 0, 0, 16, "eth0", true),
                  link_local, blackhole, own_address};
  auto o = RunCheck("network.egress", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "2 routes, all within allowed_egress");

  probe.routes.push_back(Route4(0, 0, 0, 0, 0, "eth0", true));
  probe.routes.push_back(Route4(10, 0, 0, 0, 8, "eth0"));  // wider than what is allowed
  o = RunCheck("network.egress", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "outside allowed_egress: 0.0.0.0/0 via eth0, 10.0.0.0/8 on eth0");
}

// --- os.security-updates ---------------------------------------------------------------------

TEST(SecurityUpdatesCheck, HonestAboutWhatAptCanTell) {
  FakeSystemProbe probe;
  ComplianceInputs in = Inputs();
  EXPECT_EQ(RunCheck("os.security-updates", in, probe).result, kError);  // apt failed
  probe.updates = platform::SecurityUpdates{};
  auto o = RunCheck("os.security-updates", in, probe);
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_THAT(o.observed, HasSubstr("no security suite"));

  const std::time_t now = in.now.time_since_epoch().count();
  probe.updates = platform::SecurityUpdates{true, now - 3600, {"openssl", "libssl3"}};
  o = RunCheck("os.security-updates", in, probe);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "2 pending (lists of 2026-11-23): openssl, libssl3");
  probe.updates->packages.clear();
  o = RunCheck("os.security-updates", in, probe);
  EXPECT_EQ(o.result, kPass);
  EXPECT_EQ(o.observed, "none pending (lists of 2026-11-23)");
  probe.updates->lists_time = now - 30 * 24 * 3600;
  o = RunCheck("os.security-updates", in, probe);
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("too old to tell"));
}

// --- agent.binary / agent.unit on files below a temporary root -------------------------------

class RootedTest : public ::testing::Test {
 protected:
  void Write(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(root_.path() + path).parent_path());
    std::ofstream(root_.path() + path) << content;
  }
  void Link(const std::string& path, const std::string& target) {
    std::filesystem::create_directories(std::filesystem::path(root_.path() + path).parent_path());
    std::filesystem::create_symlink(target, root_.path() + path);
  }
  testing::TempDir root_;
  std::unique_ptr<platform::SystemProbe> probe_ = platform::NewLinuxSystemProbe(root_.path());
};

constexpr char kHelloSha256[] = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
constexpr char kHelloMd5[] = "b1946ac92492d2347c6235b4d2611184";

TEST_F(RootedTest, AgentBinaryIsComparedWithItsPackage) {
  Write("/usr/sbin/mamori-agent", "hello\n");
  ComplianceInputs in = Inputs();
  in.agent_binary = "/usr/sbin/mamori-agent";
  auto o = RunCheck("agent.binary", in, *probe_);
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_EQ(o.observed, std::string("package mamori-agent not installed; /usr/sbin/mamori-agent "
                                    "sha256 ") +
                            kHelloSha256);

  Write("/var/lib/dpkg/info/mamori-agent.md5sums",
        std::string("0123456789abcdef0123456789abcdef  usr/share/doc/mamori-agent/README.md\n") +
            kHelloMd5 + "  usr/sbin/mamori-agent\n");
  o = RunCheck("agent.binary", in, *probe_);
  EXPECT_EQ(o.result, kPass);
  EXPECT_THAT(o.observed, HasSubstr("matches package mamori-agent"));

  Write("/usr/sbin/mamori-agent", "tampered\n");
  o = RunCheck("agent.binary", in, *probe_);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("differs from package mamori-agent"));

  Write("/usr/local/sbin/mamori-agent", "hello\n");
  in.agent_binary = "/usr/local/sbin/mamori-agent";
  o = RunCheck("agent.binary", in, *probe_);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("is not a file of package mamori-agent"));

  in.agent_binary = "/usr/sbin/missing";
  o = RunCheck("agent.binary", in, *probe_);
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("/usr/sbin/missing"));
}

TEST_F(RootedTest, AgentUnitMustBeWantedByMultiUserWhereSystemdRuns) {
  ComplianceInputs in = Inputs();
  auto o = RunCheck("agent.unit", in, *probe_);
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_THAT(o.observed, HasSubstr("systemd is not running"));

  std::filesystem::create_directories(root_.path() + "/run/systemd/system");
  o = RunCheck("agent.unit", in, *probe_);
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed,
              HasSubstr("no /etc/systemd/system/multi-user.target.wants/mamori-agent.service"));

  Link("/etc/systemd/system/multi-user.target.wants/mamori-agent.service",
       "/lib/systemd/system/mamori-agent.service");
  o = RunCheck("agent.unit", in, *probe_);
  EXPECT_EQ(o.result, kPass);
  EXPECT_THAT(o.observed, HasSubstr("-> /lib/systemd/system/mamori-agent.service"));

  Link("/etc/systemd/system/mamori-agent.service", "/dev/null");
  o = RunCheck("agent.unit", in, *probe_);
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "mamori-agent.service is masked");
}

// --- mfa.pam on PAM stacks below a temporary root ---------------------------------------------

class PamStackTest : public RootedTest {
 protected:
  void Pam(const std::string& name, const std::string& text) { Write("/etc/pam.d/" + name, text); }
  CheckOutcome Check(std::vector<std::string> services) {
    ComplianceInputs in = Inputs();
    in.policy.mfa.services = std::move(services);
    return RunCheck("mfa.pam", in, *probe_);
  }
  // Debian's common-auth, with pam_mamori after the password.
  void DebianCommonAuth() {
    Pam("common-auth",
        "# here are the per-package modules (the \"Primary\" block)\n"
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
        "auth\trequisite\t\t\tpam_deny.so\n"
        "auth\trequired\t\t\tpam_permit.so\n"
        "auth\trequired\t\t\tpam_mamori.so timeout=10  # second factor\n");
  }
};

TEST_F(PamStackTest, FollowsIncludesPastAJumpThatLandsBeforeTheModule) {
  DebianCommonAuth();
  Pam("login",
      "auth       optional   pam_faildelay.so  delay=3000000\n"
      "auth       requisite  pam_nologin.so\n"
      "@include common-auth\n"
      "session    required   pam_limits.so\n");
  Pam("sshd", "auth include common-auth\naccount required pam_nologin.so\n");
  const auto o = Check({"login", "sshd"});
  EXPECT_EQ(o.result, kPass) << o.observed;
  EXPECT_EQ(o.observed, "login: required, sshd: required");
}

TEST_F(PamStackTest, SufficientModuleBeforeItIsABypass) {
  DebianCommonAuth();
  Pam("su", "auth       sufficient pam_rootok.so\n@include common-auth\n");
  const auto o = Check({"su"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "su: bypassed by 'sufficient pam_rootok.so' (/etc/pam.d/su:1)");
}

TEST_F(PamStackTest, SufficientAfterItOrCommentedOutDoesNotCount) {
  Pam("login",
      "# auth sufficient pam_permit.so\n"
      "auth required pam_mamori.so\n"
      "auth sufficient pam_permit.so\n");
  EXPECT_EQ(Check({"login"}).result, kPass);
}

TEST_F(PamStackTest, CommentedOutModuleIsAbsent) {
  Pam("login", "auth required pam_unix.so\n#auth required pam_mamori.so\n");
  const auto o = Check({"login"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_EQ(o.observed, "login: pam_mamori absent");
}

TEST_F(PamStackTest, JumpOverTheModuleAndSuccessDoneAreBypasses) {
  Pam("login",
      "auth [success=2 default=ignore] pam_unix.so\n"
      "auth required /usr/lib/x86_64-linux-gnu/security/pam_mamori.so\n"
      "auth required pam_permit.so\n");
  auto o = Check({"login"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("jumped over by '[success=2 default=ignore] pam_unix.so'"));

  Pam("gdm-password",
      "auth [success=done default=ignore] pam_fprintd.so\n"
      "auth required pam_mamori.so\n");
  o = Check({"gdm-password"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("bypassed by '[success=done default=ignore] pam_fprintd.so'"));

  // Done on failure only (requisite written in brackets) ends the stack with the failure.
  Pam("gdm-password",
      "auth [success=ok default=done] pam_unix.so\n"
      "auth required pam_mamori.so\n");
  EXPECT_EQ(Check({"gdm-password"}).result, kPass) << Check({"gdm-password"}).observed;
  Pam("gdm-password", "auth [default=done] pam_unix.so\nauth required pam_mamori.so\n");
  EXPECT_EQ(Check({"gdm-password"}).result, kFail);
}

TEST_F(PamStackTest, JumpLandingExactlyOnTheModuleIsNoBypass) {
  Pam("login",
      "auth [success=1 default=ignore] pam_unix.so\n"
      "auth requisite pam_deny.so\n"
      "auth required pam_mamori.so\n");
  EXPECT_EQ(Check({"login"}).result, kPass) << Check({"login"}).observed;
  // A substack counts as one module for a jump in the enclosing stack.
  Pam("two", "auth required pam_env.so\nauth requisite pam_deny.so\n");
  Pam("login",
      "auth [success=1 default=ignore] pam_unix.so\n"
      "auth substack two\n"
      "auth required pam_mamori.so\n");
  EXPECT_EQ(Check({"login"}).result, kPass) << Check({"login"}).observed;
  Pam("login",
      "auth [success=1 default=ignore] pam_unix.so\n"
      "auth required pam_mamori.so\n"
      "auth required pam_permit.so\n");
  EXPECT_EQ(Check({"login"}).result, kFail);
}

TEST_F(PamStackTest, SufficientInsideASubstackEndsOnlyTheSubstack) {
  Pam("password-auth", "auth sufficient pam_unix.so\nauth requisite pam_deny.so\n");
  Pam("login", "auth substack password-auth\nauth required pam_mamori.so\n");
  EXPECT_EQ(Check({"login"}).result, kPass);

  Pam("mfa-auth", "auth sufficient pam_unix.so\nauth required pam_mamori.so\n");
  Pam("sshd", "auth substack mfa-auth\n");
  const auto o = Check({"sshd"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("(/etc/pam.d/mfa-auth:1)"));
}

TEST_F(PamStackTest, WeakControlOrDashAuthOnTheModuleFails) {
  Pam("login", "auth optional pam_mamori.so\n");
  auto o = Check({"login"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("pam_mamori is 'optional', not required"));
  Pam("login", "auth [success=ok default=ignore] pam_mamori.so\n");
  EXPECT_EQ(Check({"login"}).result, kFail);
  Pam("login", "-auth required pam_mamori.so\n");
  o = Check({"login"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed, HasSubstr("'-auth' skips pam_mamori"));
}

TEST_F(PamStackTest, ContinuationLinesAreJoined) {
  Pam("login", "auth \\\n   required \\\n   pam_mamori.so\n");
  EXPECT_EQ(Check({"login"}).result, kPass);
}

TEST_F(PamStackTest, MissingIncludedFileIsAnErrorNamingIt) {
  Pam("login", "@include common-auth\n");
  const auto o = Check({"login"});
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("/etc/pam.d/common-auth"));
}

TEST_F(PamStackTest, IncludeLoopIsAnErrorNotAHang) {
  Pam("login", "auth include login\n");
  const auto o = Check({"login"});
  EXPECT_EQ(o.result, kError);
  EXPECT_THAT(o.observed, HasSubstr("nested deeper than"));
}

TEST_F(PamStackTest, AFailingServiceOutranksAnUnreadableOne) {
  Pam("login", "auth required pam_unix.so\n");
  Pam("sshd", "@include nowhere\n");
  const auto o = Check({"login", "sshd"});
  EXPECT_EQ(o.result, kFail);
  EXPECT_THAT(o.observed,
              AllOf(HasSubstr("login: pam_mamori absent"), HasSubstr("/etc/pam.d/nowhere")));
}

TEST_F(PamStackTest, ServicesNotInstalledAreListedAndNoneInstalledDoesNotApply) {
  DebianCommonAuth();
  Pam("login", "@include common-auth\n");
  auto o = Check({"*"});
  EXPECT_EQ(o.result, kPass);
  EXPECT_THAT(o.observed, AllOf(HasSubstr("login: required"), HasSubstr("not installed: sshd")));
  o = Check({"xrdp-sesman"});
  EXPECT_EQ(o.result, kNotApplicable);
  EXPECT_THAT(o.observed, Not(HasSubstr("login")));
}

}  // namespace
}  // namespace mamori::agent
