// Counters exposed in the Prometheus text format on GET /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mamori::collector {

class Metrics {
 public:
  // One HTTP response sent by a listener ("agent" or "admin").
  void CountResponse(const std::string& listener, int status);
  void CountEnrollment(bool cloned);
  void CountReport(bool duplicate);
  void CountPolicyPush() { policy_pushes_++; }
  void CountCodeReusedAlerts(std::uint64_t n) { code_reused_alerts_ += n; }
  void AddLongPolls(int delta) { long_polls_ += delta; }

  std::string Render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> responses_;
  std::atomic<std::uint64_t> enrollments_{0};
  std::atomic<std::uint64_t> clones_{0};
  std::atomic<std::uint64_t> reports_{0};
  std::atomic<std::uint64_t> duplicate_reports_{0};
  std::atomic<std::uint64_t> policy_pushes_{0};
  std::atomic<std::uint64_t> code_reused_alerts_{0};
  std::atomic<std::int64_t> long_polls_{0};
};

}  // namespace mamori::collector
