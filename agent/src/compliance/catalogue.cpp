// The catalogue: one table of every check, in the order reports list them.
#include <algorithm>
#include <exception>
#include <string_view>

#include "checks.h"

namespace mamori::agent {
namespace {

struct Entry {
  const char* id;
  const char* clause;
  const char* title_ja;
  const char* title_en;
  compliance::Check check;
};

constexpr Entry kCatalogue[] = {
    {"usb.guard", "6(3)1.export", "USBガードが既定拒否で動作中", "USB guard enforcing default deny",
     compliance::UsbGuard},
    {"usb.rules", "6(3)1.export", "USB許可リストと読み取り専用の設定",
     "USB allow-list and read-only settings", compliance::UsbRules},
    {"mfa.pam", "6(3)1.mfa", "対象サービスのPAMにpam_mamoriが組み込まれている",
     "pam_mamori in the PAM stack of each required service", compliance::MfaPamStacks},
    {"mfa.enrolled", "6(3)1.mfa", "多要素認証の対象利用者が登録済み",
     "Users in the MFA scope enrolled", compliance::MfaEnrolled},
    {"clock.skew", "6(7).clock", "収集サーバとの時刻差", "Clock skew against the collector",
     compliance::ClockSkew},
    {"clock.ntp", "6(7).clock", "時刻同期(NTP)", "Clock synchronized (NTP)", compliance::ClockSync},
    {"policy.current", "3(2).policy", "署名検証済みの有効なポリシーを適用中",
     "Verified, unexpired policy applied", compliance::PolicyCurrent},
    {"agent.binary", "3(2).integrity", "エージェント実行ファイルの完全性",
     "Agent binary matches its package", compliance::AgentBinary},
    {"agent.unit", "3(2).integrity", "エージェントの自動起動設定", "Agent service enabled",
     compliance::AgentUnit},
    {"network.egress", "6(3)1.network", "通信経路が許可されたネットワークに限定",
     "Routes limited to the allowed networks", compliance::NetworkEgress},
    {"os.security-updates", "6(6).updates", "未適用のセキュリティ更新",
     "No pending security updates", compliance::SecurityUpdates},
};

}  // namespace

std::vector<CheckOutcome> RunComplianceChecks(const ComplianceInputs& inputs,
                                              platform::SystemProbe& probe) {
  return RunComplianceChecks(inputs, probe, {});
}

std::vector<CheckOutcome> RunComplianceChecks(const ComplianceInputs& inputs,
                                              platform::SystemProbe& probe,
                                              const std::vector<std::string>& prefixes) {
  std::vector<CheckOutcome> outcomes;
  for (const Entry& e : kCatalogue) {
    const std::string_view id = e.id;
    if (!prefixes.empty() &&
        std::none_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return id.starts_with(p); })) {
      continue;
    }
    compliance::Verdict v;
    try {
      v = e.check(inputs, probe);
    } catch (const std::exception& ex) {
      v = {kError, std::string("internal error: ") + ex.what()};
    }
    outcomes.push_back({e.id, e.clause, e.title_ja, e.title_en, v.result, v.observed});
  }
  return outcomes;
}

bool AllCompliant(const std::vector<CheckOutcome>& outcomes) {
  for (const CheckOutcome& o : outcomes) {
    if (o.result != kPass && o.result != kNotApplicable) return false;
  }
  return true;
}

namespace compliance {

std::string JoinLimited(const std::vector<std::string>& items, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  if (items.size() > limit) out += " … (" + std::to_string(items.size() - limit) + " more)";
  return out;
}

}  // namespace compliance
}  // namespace mamori::agent
