#include "mamori/collector/metrics.h"

#include <sstream>

namespace mamori::collector {

void Metrics::CountResponse(const std::string& listener, int status) {
  std::lock_guard lock(mutex_);
  responses_[{listener, status}]++;
}

void Metrics::CountEnrollment(bool cloned) {
  enrollments_++;
  if (cloned) clones_++;
}

void Metrics::CountReport(bool duplicate) { (duplicate ? duplicate_reports_ : reports_)++; }

std::string Metrics::Render() const {
  std::ostringstream out;
  out << "# HELP mamori_http_responses_total HTTP responses by listener and status.\n"
         "# TYPE mamori_http_responses_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, count] : responses_) {
      out << "mamori_http_responses_total{listener=\"" << key.first << "\",status=\"" << key.second
          << "\"} " << count << "\n";
    }
  }
  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << value << "\n";
  };
  counter("mamori_enrollments_total", "Terminals enrolled.", enrollments_);
  counter("mamori_cloned_enrollments_total", "Enrollments flagged as cloned images.", clones_);
  counter("mamori_reports_total", "Reports stored.", reports_);
  counter("mamori_duplicate_reports_total", "Re-sent reports acknowledged without storing.",
          duplicate_reports_);
  counter("mamori_policy_pushes_total", "Policy bundles stored.", policy_pushes_);
  counter("mamori_mfa_code_reused_alerts_total",
          "mfa.code_reused alerts raised: one TOTP code accepted on two terminals.",
          code_reused_alerts_);
  out << "# HELP mamori_policy_long_polls Policy long-polls waiting now.\n"
         "# TYPE mamori_policy_long_polls gauge\n"
         "mamori_policy_long_polls "
      << long_polls_ << "\n";
  return out.str();
}

}  // namespace mamori::collector
