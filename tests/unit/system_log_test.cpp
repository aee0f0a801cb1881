#include "mamori/platform/system_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace mamori::platform {
namespace {

TEST(SystemLogTest, WithoutJournaldTheMessageGoesToStandardError) {
  struct stat st;
  if (::stat("/run/systemd/journal/socket", &st) == 0) GTEST_SKIP() << "journald runs here";
  auto log = NewJournaldSystemLog();
  ::testing::internal::CaptureStderr();
  log->Send(SystemLog::Priority::kNotice, "device decision: action=block rule=\"default\"",
            {{"MAMORI_RULE", "default"}});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "device decision: action=block rule=\"default\"\n");
}

}  // namespace
}  // namespace mamori::platform
