// The reporter against a scripted collector (a fake transport) on a real journal: when the
// compliance catalogue runs, which checks a report carries, and what each refusal leads to.
#include "mamori/agent/reporter.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"

namespace mamori::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using platform::Status;

class ReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform::SecureDir::Open(tmp_.path() + "/state", 0700, &state_).ok());
    ASSERT_TRUE(EventJournal::Open(*state_, &journal_).ok());
  }

  std::unique_ptr<Reporter> MakeReporter(Reporter::Options options = {}) {
    Reporter::Checks checks;
    checks.run = [this](const std::vector<std::string>& prefixes) {
      runs_.push_back(prefixes);
      std::vector<ReportCheck> out;
      for (const auto& [id, result] : results_) {
        bool selected = prefixes.empty();
        for (const auto& p : prefixes) selected = selected || id.starts_with(p);
        if (selected) out.push_back({id, result, "observed " + result});
      }
      return out;
    };
    checks.affected_by = [](std::string_view type) {
      return type == "mfa.enrolled" ? std::vector<std::string>{"mfa.enrolled"}
                                    : std::vector<std::string>{};
    };
    return std::make_unique<Reporter>(
        [this](const std::string& body, Reporter::Response* out) {
          sent_.push_back(json::parse(body).as_object());
          *out = answer_(sent_.back());
          return Status::Ok();
        },
        *journal_, std::move(checks), [] { return std::optional<std::uint64_t>(); },
        [this] { return interval_; }, options);
  }

  void Record(const std::string& type, const std::string& n = "") {
    ASSERT_TRUE(journal_->Record(Event{1763900000, type, {{"n", n}}}).ok());
  }

  static std::map<std::string, std::string> Checks(const json::object& report) {
    std::map<std::string, std::string> out;
    if (const auto* checks = report.if_contains("checks")) {
      for (const auto& c : checks->as_array()) {
        out[std::string(c.at("id").as_string())] = std::string(c.at("result").as_string());
      }
    }
    return out;
  }
  static std::vector<std::string> EventNumbers(const json::object& report) {
    std::vector<std::string> out;
    if (const auto* events = report.if_contains("events")) {
      for (const auto& e : events->as_array()) {
        const auto& data = e.at("data").as_object();
        out.emplace_back(data.contains("n") ? data.at("n").as_string() : e.at("type").as_string());
      }
    }
    return out;
  }
  std::uint64_t Pending() {
    std::uint64_t n = 0;
    EXPECT_TRUE(journal_->PendingEvents(&n).ok());
    return n;
  }

  mamori::testing::TempDir tmp_;
  std::unique_ptr<platform::SecureDir> state_;
  std::unique_ptr<EventJournal> journal_;
  std::map<std::string, std::string> results_ = {
      {"mfa.enrolled", "pass"}, {"mfa.pam", "pass"}, {"usb.guard", "pass"}};
  std::chrono::seconds interval_{300};
  std::vector<std::vector<std::string>> runs_;
  std::vector<json::object> sent_;
  std::function<Reporter::Response(const json::object&)> answer_ = [](const json::object&) {
    return Reporter::Response{200, R"({"ack":1})", "", ""};
  };
};

TEST_F(ReporterTest, CatalogueRunsAtStartAndEventsSendOnlyWhatChanged) {
  auto reporter = MakeReporter();
  bool more = false;
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_TRUE(runs_[0].empty());  // the whole catalogue
  EXPECT_EQ(Checks(sent_[0]).size(), 3u);

  // A login or a USB decision changes no check: no run, a report of events only.
  Record("mfa.success", "1");
  Record("usb.decision", "2");
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(runs_.size(), 1u);
  EXPECT_FALSE(sent_[1].contains("checks"));
  EXPECT_EQ(EventNumbers(sent_[1]), (std::vector<std::string>{"1", "2"}));

  // An enrollment runs only the check it may change; unchanged, it is not sent.
  Record("mfa.enrolled", "3");
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  ASSERT_EQ(runs_.size(), 2u);
  EXPECT_EQ(runs_[1], (std::vector<std::string>{"mfa.enrolled"}));
  EXPECT_FALSE(sent_[2].contains("checks"));

  // Changed, it is sent alone.
  results_["mfa.enrolled"] = "fail";
  results_["usb.guard"] = "fail";  // not re-run: not sent yet
  Record("mfa.enrolled", "4");
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(Checks(sent_[3]), (std::map<std::string, std::string>{{"mfa.enrolled", "fail"}}));

  // A policy change asks for its checks explicitly.
  reporter->Refresh({"usb."});
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(runs_.back(), (std::vector<std::string>{"usb."}));
  EXPECT_EQ(Checks(sent_[4]), (std::map<std::string, std::string>{{"usb.guard", "fail"}}));
  EXPECT_EQ(reporter->check_runs(), 4u);
}

TEST_F(ReporterTest, EveryIntervalTheCatalogueRunsAndASnapshotCarriesEveryCheck) {
  Reporter::Options options;
  options.snapshot_interval = std::chrono::seconds(0);
  interval_ = std::chrono::seconds(0);
  auto reporter = MakeReporter(options);
  bool more = false;
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(runs_.size(), 2u);
  EXPECT_EQ(Checks(sent_[1]).size(), 3u);  // unchanged, and sent all the same
}

TEST_F(ReporterTest, ChangesNotAcknowledgedAreSentAgain) {
  auto reporter = MakeReporter();
  bool more = false;
  answer_ = [](const json::object&) { return Reporter::Response{500, "{}", "", ""}; };
  EXPECT_FALSE(reporter->SendOnce(&more).ok());
  answer_ = [](const json::object&) { return Reporter::Response{200, "{}", "", ""}; };
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(runs_.size(), 1u);
  EXPECT_EQ(Checks(sent_[1]).size(), 3u);
  EXPECT_EQ(sent_[1].at("sequence"), sent_[0].at("sequence"));  // the same sealed report
}

TEST_F(ReporterTest, RevokedCertificateKeepsEventsAndWaitsTheLongestBackoff) {
  Reporter::Options options;
  options.backoff_max = std::chrono::seconds(300);
  auto reporter = MakeReporter(options);
  policy::ReportingPolicy reporting;
  reporting.retry_max_seconds = 900;
  reporter->SetReporting(reporting);
  answer_ = [](const json::object&) {
    return Reporter::Response{403, R"({"error":"terminal t1 is revoked"})", "", ""};
  };
  Record("mfa.success", "1");
  bool more = false;
  for (int i = 0; i < 3; ++i) {
    Status s = reporter->SendOnce(&more);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("HTTP 403"), std::string::npos) << s.message();
    ASSERT_TRUE(reporter->retry_delay().has_value());
    EXPECT_EQ(*reporter->retry_delay(), std::chrono::seconds(900));
  }
  // Said once in the journal, next to the event that waits.
  EXPECT_EQ(Pending(), 2u);
  answer_ = [](const json::object&) { return Reporter::Response{200, "{}", "", ""}; };
  ASSERT_TRUE(reporter->SendOnce(&more).ok());  // the sealed report, unchanged
  EXPECT_EQ(EventNumbers(sent_.back()), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(more);
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(EventNumbers(sent_.back()), (std::vector<std::string>{"report.refused"}));
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(ReporterTest, RefusedBatchIsHalvedAndTheLoneBadEventQuarantined) {
  auto reporter = MakeReporter();
  bool more = false;
  ASSERT_TRUE(reporter->SendOnce(&more).ok());  // the checks, acknowledged
  for (int i = 1; i <= 8; ++i) Record("test.event", std::to_string(i));
  answer_ = [](const json::object& report) {
    for (const auto& n : EventNumbers(report)) {
      if (n == "6") return Reporter::Response{400, R"({"error":"/events/5/data: bad"})", "", ""};
    }
    return Reporter::Response{200, "{}", "", ""};
  };
  std::vector<std::string> delivered;
  for (int i = 0; i < 20 && (Pending() > 0 || i == 0); ++i) {
    Status s = reporter->SendOnce(&more);
    if (s.ok()) {
      for (auto& n : EventNumbers(sent_.back())) delivered.push_back(n);
    } else {
      ASSERT_TRUE(reporter->retry_delay().has_value()) << s.message();
      EXPECT_EQ(reporter->retry_delay()->count(), 0);
    }
  }
  EXPECT_EQ(delivered,
            (std::vector<std::string>{"1", "2", "3", "4", "5", "7", "8", "journal.quarantined"}));
  EXPECT_EQ(Pending(), 0u);
  std::string quarantined;
  for (const auto& e : fs::directory_iterator(tmp_.path() + "/state/journal")) {
    if (e.path().filename().string().starts_with("quarantine-")) {
      std::ifstream in(e.path());
      quarantined.assign(std::istreambuf_iterator<char>(in), {});
    }
  }
  EXPECT_NE(quarantined.find(R"("n":"6")"), std::string::npos) << quarantined;
  std::uint64_t count = 0;
  for (const auto& r : sent_) {
    for (const auto& e : r.contains("events") ? r.at("events").as_array() : json::array{}) {
      if (e.at("type") == "journal.quarantined" && e.at("data").at("count") == "1") ++count;
    }
  }
  EXPECT_EQ(count, 1u);
}

TEST_F(ReporterTest, RefusedChecksAreLeftOutRatherThanTheEventQuarantined) {
  auto reporter = MakeReporter();
  bool more = false;
  ASSERT_TRUE(reporter->SendOnce(&more).ok());  // the catalogue at start, acknowledged
  answer_ = [](const json::object& report) {
    return report.contains("checks")
               ? Reporter::Response{400, R"({"error":"/checks/0/observed: too long"})", "", ""}
               : Reporter::Response{200, "{}", "", ""};
  };
  results_["usb.guard"] = "fail";
  reporter->Refresh({"usb."});
  Record("mfa.success", "1");
  EXPECT_FALSE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(Checks(sent_.back()), (std::map<std::string, std::string>{{"usb.guard", "fail"}}));
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_FALSE(sent_.back().contains("checks"));
  EXPECT_EQ(EventNumbers(sent_.back()), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Pending(), 0u);
}

// Events waiting when the whole catalogue is due go first; the catalogue runs for the next report.
TEST_F(ReporterTest, EventsAreNotHeldBackByTheCatalogue) {
  auto reporter = MakeReporter();
  Record("mfa.success", "1");
  bool more = false;
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_TRUE(runs_.empty());
  EXPECT_EQ(EventNumbers(sent_[0]), (std::vector<std::string>{"1"}));
  EXPECT_FALSE(sent_[0].contains("checks"));
  EXPECT_TRUE(more);
  // Only once in a row: with events waiting again, the catalogue runs now.
  Record("mfa.success", "2");
  ASSERT_TRUE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(runs_.size(), 1u);
  EXPECT_EQ(Checks(sent_[1]).size(), 3u);
  EXPECT_EQ(EventNumbers(sent_[1]), (std::vector<std::string>{"2"}));
  EXPECT_FALSE(more);
}

TEST_F(ReporterTest, RetryAfterIsHonouredUpToTheLongestBackoff) {
  Reporter::Options options;
  options.backoff_max = std::chrono::seconds(60);
  auto reporter = MakeReporter(options);
  bool more = false;
  answer_ = [](const json::object&) { return Reporter::Response{503, "{}", "", "7"}; };
  EXPECT_FALSE(reporter->SendOnce(&more).ok());
  ASSERT_TRUE(reporter->retry_delay().has_value());
  EXPECT_EQ(*reporter->retry_delay(), std::chrono::seconds(7));
  answer_ = [](const json::object&) { return Reporter::Response{503, "{}", "", "86400"}; };
  EXPECT_FALSE(reporter->SendOnce(&more).ok());
  EXPECT_EQ(*reporter->retry_delay(), std::chrono::seconds(60));
  answer_ = [](const json::object&) { return Reporter::Response{502, "{}", "", ""}; };
  EXPECT_FALSE(reporter->SendOnce(&more).ok());
  EXPECT_FALSE(reporter->retry_delay().has_value());  // the ordinary backoff
}

}  // namespace
}  // namespace mamori::agent
