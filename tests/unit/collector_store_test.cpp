// The store's contract, run against both backends: SQLite files in temp directories and databases
// on the private PostgreSQL server. Then what only one backend has.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "mamori/collector/postgres_store.h"
#include "mamori/collector/sqlite_store.h"
#include "mamori/collector/tokens.h"
#include "test_database.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;
using mamori::testing::Backend;
using mamori::testing::TestDatabase;

fs::path MakeTempDir() {
  char pattern[] = "/tmp/mamori-store-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    db_ = TestDatabase::Create(GetParam(), dir_);
    store_ = OpenStore(db_->uri());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }

  int SchemaVersion() const {
    return GetParam() == Backend::kSqlite ? SqliteSchemaVersion() : PostgresSchemaVersion();
  }

  std::string AddToken(const std::string& group, int uses, UnixTime expires_at) {
    const NewToken t = GenerateToken(kEnrollmentTokenPrefix);
    store_->CreateEnrollmentToken({t.id, group, uses, expires_at, 100}, t.secret_hash);
    return t.id;
  }

  Terminal EnrollOk(const std::string& token_id, const std::string& id,
                    const std::string& machine_id, const std::string& key) {
    EnrollOutcome out = store_->Enroll(
        token_id, {id, machine_id, "cert-" + id, key, "host-" + id, "SN1", "Debian 12"}, 1000);
    EXPECT_EQ(out.status, EnrollStatus::kOk);
    return out.terminal.value_or(Terminal{});
  }

  fs::path dir_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, RecordsTheSchemaVersion) {
  EXPECT_EQ(db_->Query("SELECT MAX(version) FROM schema_migrations"),
            std::to_string(SchemaVersion()));
}

TEST_P(StoreTest, ReopeningKeepsDataAndDoesNotReapplyMigrations) {
  const std::string token = AddToken("shimin-ka", 1, 5000);
  store_.reset();
  store_ = OpenStore(db_->uri());
  EXPECT_TRUE(store_->FindEnrollmentToken(token));
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM schema_migrations"), std::to_string(SchemaVersion()));
}

TEST_P(StoreTest, RefusesADatabaseFromANewerSchema) {
  store_.reset();
  db_->Query("INSERT INTO schema_migrations (version) VALUES (999)");
  try {
    OpenStore(db_->uri());
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 999"), std::string::npos) << e.what();
  }
}

TEST_P(StoreTest, EnrollmentTokenIsStoredHashedAndConsumedPerUse) {
  const NewToken t = GenerateToken(kEnrollmentTokenPrefix);
  store_->CreateEnrollmentToken({t.id, "zeimu-ka", 2, 5000, 100}, t.secret_hash);
  auto found = store_->FindEnrollmentToken(t.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->second.secret_hash, t.secret_hash);
  EXPECT_EQ(found->first.group, "zeimu-ka");

  const Terminal a = EnrollOk(t.id, "t-a", "m-a", "k-a");
  EXPECT_EQ(a.group, "zeimu-ka");
  EXPECT_EQ(a.hostname, "host-t-a");
  EXPECT_FALSE(a.cloned);
  EnrollOk(t.id, "t-b", "m-b", "k-b");
  EXPECT_EQ(store_->Enroll(t.id, {"t-c", "m-c", "c", "k-c", "h", "s", "o"}, 1000).status,
            EnrollStatus::kTokenExhausted);
  EXPECT_FALSE(store_->FindTerminal("t-c"));
  EXPECT_EQ(store_->FindEnrollmentToken(t.id)->first.uses_left, 0);
}

TEST_P(StoreTest, ExpiredOrUnknownTokenEnrollsNothing) {
  const std::string token = AddToken("g", 5, 1000);
  EXPECT_EQ(store_->Enroll(token, {"t-a", "m", "c", "k", "h", "s", "o"}, 1000).status,
            EnrollStatus::kTokenExpired);
  EXPECT_EQ(store_->Enroll("nope", {"t-a", "m", "c", "k", "h", "s", "o"}, 10).status,
            EnrollStatus::kUnknownToken);
  EXPECT_FALSE(store_->FindTerminal("t-a"));
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 5);
}

TEST_P(StoreTest, SameMachineIdUnderAnotherKeyIsAFlaggedCloneNotAMerge) {
  const std::string token = AddToken("g", 5, 5000);
  EnrollOk(token, "t-orig", "machine-1", "key-1");
  const Terminal clone = EnrollOk(token, "t-clone", "machine-1", "key-2");
  EXPECT_TRUE(clone.cloned);
  EXPECT_EQ(clone.cloned_from, "t-orig");
  EXPECT_FALSE(store_->FindTerminal("t-orig")->cloned);
  EXPECT_EQ(store_->Fleet().size(), 2u);
  // The original key again is a re-enrollment of that machine, not a clone.
  EXPECT_FALSE(EnrollOk(token, "t-again", "machine-1", "key-1").cloned);
}

TEST_P(StoreTest, RevokeMarksOnlyThatTerminal) {
  const std::string token = AddToken("g", 5, 5000);
  EnrollOk(token, "t-a", "m-a", "k-a");
  EnrollOk(token, "t-b", "m-b", "k-b");
  EXPECT_TRUE(store_->RevokeTerminal("t-a"));
  EXPECT_FALSE(store_->RevokeTerminal("t-none"));
  EXPECT_TRUE(store_->FindTerminal("t-a")->revoked);
  EXPECT_FALSE(store_->FindTerminal("t-b")->revoked);
}

TEST_P(StoreTest, ApiTokensKeepTheirRole) {
  const NewToken t = GenerateToken(kApiTokenPrefix);
  store_->CreateApiToken({t.id, Role::kItRead, "helpdesk", 7}, t.secret_hash);
  auto found = store_->FindApiToken(t.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->first.role, Role::kItRead);
  EXPECT_EQ(found->first.label, "helpdesk");
  EXPECT_EQ(found->second.secret_hash, t.secret_hash);
  EXPECT_FALSE(store_->FindApiToken("other"));
}

Report MakeReport(std::uint64_t seq, std::string usb_result, std::string observed = "0") {
  Report r;
  r.sequence = seq;
  r.policy_version = 7;
  r.checks.push_back({"usb.authorized_default", std::move(usb_result), std::move(observed)});
  r.checks.push_back({"ntp.sync", "pass", "yes"});
  r.events.push_back({0, "", 0, 1500 + static_cast<UnixTime>(seq), "usb.blocked",
                      R"({"vid":"0781","seq":)" + std::to_string(seq) + "}"});
  return r;
}

TEST_P(StoreTest, AdminCertificatesAreFoundByFingerprintAndRevokedById) {
  const AdminCertificate admin{"c-1", std::string(64, 'a'), Role::kAdmin, "soumu", 100, 900, false};
  const AdminCertificate reader{"c-2", std::string(64, 'b'), Role::kItRead, "helpdesk", 200, 900,
                                false};
  store_->CreateAdminCertificate(admin);
  store_->CreateAdminCertificate(reader);
  // A fingerprint is one certificate.
  EXPECT_THROW(
      store_->CreateAdminCertificate({"c-3", admin.fingerprint, Role::kItRead, "x", 1, 2, false}),
      StoreError);
  auto found = store_->FindAdminCertificate(reader.fingerprint);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "c-2");
  EXPECT_EQ(found->role, Role::kItRead);
  EXPECT_EQ(found->name, "helpdesk");
  EXPECT_EQ(found->expires_at, 900);
  EXPECT_FALSE(found->revoked);
  EXPECT_FALSE(store_->FindAdminCertificate(std::string(64, 'c')));

  EXPECT_TRUE(store_->RevokeAdminCertificate("c-2"));
  EXPECT_FALSE(store_->RevokeAdminCertificate("c-9"));
  EXPECT_TRUE(store_->FindAdminCertificate(reader.fingerprint)->revoked);
  EXPECT_FALSE(store_->FindAdminCertificate(admin.fingerprint)->revoked);
  const auto all = store_->AdminCertificates();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "c-1");
  EXPECT_EQ(all[0].role, Role::kAdmin);
  EXPECT_TRUE(all[1].revoked);
}

TEST_P(StoreTest, ResentSequenceIsStoredOnce) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(1, "pass"), 2000), 1u);
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(2, "pass"), 2001), 2u);
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(2, "pass"), 2002), 2u);
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(1, "pass"), 2003), 2u);
  EXPECT_EQ(store_->Events(0, 100).size(), 2u);
  EXPECT_TRUE(store_->HasReport("t-a", 1));
  EXPECT_TRUE(store_->HasReport("t-a", 2));
  EXPECT_FALSE(store_->HasReport("t-a", 3));
  const Terminal t = *store_->FindTerminal("t-a");
  EXPECT_EQ(t.last_sequence, 2u);
  EXPECT_EQ(t.last_seen, 2001);
  EXPECT_EQ(t.policy_version, 7u);
}

TEST_P(StoreTest, ALateOlderReportAddsEventsButKeepsNewerStatus) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  store_->IngestReport("t-a", MakeReport(5, "pass"), 2000);
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(4, "fail"), 2001), 5u);
  EXPECT_EQ(store_->Checks("t-a")[1].result, "pass");
  EXPECT_EQ(store_->Events(0, 100).size(), 2u);
}

TEST_P(StoreTest, CheckHistoryAndFirstFailedTime) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  store_->IngestReport("t-a", MakeReport(1, "pass", "0"), 2000);
  store_->IngestReport("t-a", MakeReport(2, "fail", "1"), 2100);
  store_->IngestReport("t-a", MakeReport(3, "fail", "1"), 2200);
  store_->IngestReport("t-a", MakeReport(4, "fail", "2"), 2300);

  auto checks = store_->Checks("t-a");
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].check_id, "usb.authorized_default");
  EXPECT_EQ(checks[1].result, "fail");
  EXPECT_EQ(checks[1].first_failed_at, 2100);  // the failure run began at report 2
  EXPECT_EQ(checks[1].changed_at, 2300);
  EXPECT_EQ(checks[1].updated_at, 2300);
  EXPECT_FALSE(checks[0].first_failed_at);

  store_->IngestReport("t-a", MakeReport(5, "pass", "0"), 2400);
  checks = store_->Checks("t-a");
  EXPECT_FALSE(checks[1].first_failed_at);

  // History keeps changes only: pass, fail(1), fail(2), pass for usb; one entry for ntp.
  auto history = store_->CheckHistory("t-a", 100);
  std::vector<std::string> usb;
  for (const auto& h : history) {
    if (h.check_id == "usb.authorized_default") usb.push_back(h.result + ":" + h.observed);
  }
  EXPECT_EQ(usb, (std::vector<std::string>{"pass:0", "fail:1", "fail:2", "pass:0"}));
  EXPECT_EQ(history.size(), 5u);
}

TEST_P(StoreTest, FleetCountsResults) {
  const std::string token = AddToken("g", 2, 5000);
  EnrollOk(token, "t-a", "m-a", "k-a");
  EnrollOk(token, "t-b", "m-b", "k-b");
  store_->IngestReport("t-a", MakeReport(1, "fail"), 2000);
  auto fleet = store_->Fleet();
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_EQ(fleet[0].terminal.id, "t-a");
  EXPECT_EQ(fleet[0].pass, 1);
  EXPECT_EQ(fleet[0].fail, 1);
  EXPECT_EQ(fleet[1].pass + fleet[1].fail + fleet[1].error, 0);
  EXPECT_FALSE(fleet[1].terminal.last_seen);
}

TEST_P(StoreTest, EventsSinceTime) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  for (std::uint64_t s = 1; s <= 4; ++s) store_->IngestReport("t-a", MakeReport(s, "pass"), 2000);
  auto events = store_->Events(1503, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].time, 1503);
  EXPECT_EQ(events[0].terminal_id, "t-a");
  EXPECT_EQ(events[0].type, "usb.blocked");
  EXPECT_EQ(events[1].data, R"({"vid":"0781","seq":4})");
  EXPECT_LT(events[0].id, events[1].id);
  EXPECT_EQ(store_->Events(0, 1).size(), 1u);
}

TEST_P(StoreTest, PolicyVersionsOnlyMoveUpIncludingAbove2To63) {
  EXPECT_FALSE(store_->LatestPolicy());
  EXPECT_EQ(store_->StorePolicy({7, "h7", "bundle7", 1}), PolicyStoreStatus::kStored);
  EXPECT_EQ(store_->StorePolicy({7, "h7b", "other", 2}), PolicyStoreStatus::kNotNewer);
  EXPECT_EQ(store_->StorePolicy({6, "h6", "b6", 2}), PolicyStoreStatus::kNotNewer);
  EXPECT_EQ(store_->LatestPolicy()->bundle, "bundle7");
  const std::uint64_t big = (std::uint64_t{1} << 63) + 5;
  EXPECT_EQ(store_->StorePolicy({big, "hb", "big", 3}), PolicyStoreStatus::kStored);
  EXPECT_EQ(store_->StorePolicy({100, "h", "b", 3}), PolicyStoreStatus::kNotNewer);
  EXPECT_EQ(store_->LatestPolicy()->version, big);
}

TEST_P(StoreTest, SettingIsWrittenOnce) {
  EXPECT_EQ(store_->PutSettingIfAbsent("ca", std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(store_->PutSettingIfAbsent("ca", "other"), std::string("a\0b", 3));
  EXPECT_EQ(store_->Setting("ca"), std::string("a\0b", 3));
  EXPECT_FALSE(store_->Setting("none"));
}

TEST_P(StoreTest, AFailedTransactionLeavesNothing) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  // An out-of-range sequence fails inside the transaction after nothing was written.
  Report bad = MakeReport(std::uint64_t{1} << 63, "pass");
  EXPECT_THROW(store_->IngestReport("t-a", bad, 2000), StoreError);
  // A duplicate terminal id fails after the token use was taken: the use must come back.
  const std::string token = AddToken("g", 1, 5000);
  EXPECT_THROW(store_->Enroll(token, {"t-a", "m2", "c", "k2", "h", "s", "o"}, 1000), StoreError);
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 1);
  EXPECT_TRUE(store_->Events(0, 10).empty());
}

TEST_P(StoreTest, TextKeepsQuotesBackslashesCommasAndBraces) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  Report r;
  r.sequence = 1;
  r.checks.push_back({"odd,{id}", "fail", R"(a,"b"\c{} NULL)"});
  r.events.push_back({0, "", 0, 1500, "t\"y,pe", R"({"path":"C:\\x\"y","a":"{,}"})"});
  r.events.push_back({0, "", 0, 1501, "", "{}"});
  EXPECT_EQ(store_->IngestReport("t-a", r, 2000), 1u);
  const auto checks = store_->Checks("t-a");
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].check_id, "odd,{id}");
  EXPECT_EQ(checks[0].observed, R"(a,"b"\c{} NULL)");
  const auto events = store_->Events(0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "t\"y,pe");
  EXPECT_EQ(events[0].data, R"({"path":"C:\\x\"y","a":"{,}"})");
  EXPECT_EQ(events[1].type, "");
  // A report with neither checks nor events is stored too.
  Report empty;
  empty.sequence = 2;
  EXPECT_EQ(store_->IngestReport("t-a", empty, 2100), 2u);
  EXPECT_TRUE(store_->HasReport("t-a", 2));
  EXPECT_EQ(store_->FindTerminal("t-a")->last_seen, 2100);
}

TEST_P(StoreTest, GroupCommitStoresEveryGoodReportOfABatchWithABadOne) {
  const std::string token = AddToken("g", 2, 5000);
  EnrollOk(token, "t-a", "m-a", "k-a");
  EnrollOk(token, "t-b", "m-b", "k-b");
  store_->IngestReport("t-a", MakeReport(1, "pass"), 2000);
  const std::vector<IngestItem> batch = {{"t-a", MakeReport(2, "fail")},
                                         {"t-none", MakeReport(1, "pass")},
                                         {"t-a", MakeReport(1, "pass")},
                                         {"t-b", MakeReport(1, "pass")},
                                         {"t-b", MakeReport(1, "pass")}};
  const std::vector<IngestResult> results = store_->IngestReports(batch, 2100);
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_TRUE(results[0].stored);
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_EQ(results[0].ack, 2u);
  EXPECT_FALSE(results[1].stored);
  EXPECT_NE(results[1].error.find("t-none"), std::string::npos) << results[1].error;
  EXPECT_TRUE(results[2].stored);
  EXPECT_TRUE(results[2].duplicate);
  EXPECT_EQ(results[2].ack, 2u);
  EXPECT_TRUE(results[3].stored);
  EXPECT_FALSE(results[3].duplicate);
  EXPECT_TRUE(results[4].duplicate);  // the same sequence twice in one batch is stored once
  EXPECT_TRUE(store_->HasReport("t-a", 2));
  EXPECT_TRUE(store_->HasReport("t-b", 1));
  EXPECT_FALSE(store_->HasReport("t-none", 1));
  EXPECT_EQ(store_->Events(0, 100).size(), 3u);
  EXPECT_EQ(store_->FindTerminal("t-a")->last_sequence, 2u);
}

TEST_P(StoreTest, FleetSummaryCountsComplianceStalenessAndPolicyVersions) {
  const std::string token = AddToken("g", 4, 5000);
  EnrollOk(token, "t-a", "m-a", "k-a");
  EnrollOk(token, "t-b", "m-b", "k-b");
  EnrollOk(token, "t-c", "m-c", "k-c");
  EnrollOk(token, "t-d", "m-d", "k-d");
  store_->IngestReport("t-a", MakeReport(1, "fail"), 2000);
  store_->IngestReport("t-b", MakeReport(1, "pass"), 3000);
  store_->IngestReport("t-c", MakeReport(1, "pass"), 3000);
  store_->IngestReport("t-c", MakeReport(2, "fail"), 3100);  // a newer report changes its status
  Report erring = MakeReport(1, "pass");
  erring.checks[0].result = "error";
  erring.policy_version = 9;
  store_->IngestReport("t-d", erring, 3000);
  EXPECT_EQ(store_->FleetSummary(0).error, 1u);
  store_->IngestReport("t-d", MakeReport(2, "pass"), 3200);
  ASSERT_TRUE(store_->RevokeTerminal("t-b"));

  const FleetTotals totals = store_->FleetSummary(2500);
  EXPECT_EQ(totals.terminals, 4u);
  EXPECT_EQ(totals.revoked, 1u);
  EXPECT_EQ(totals.fail, 2u);
  EXPECT_EQ(totals.pass, 1u);
  EXPECT_EQ(totals.error, 0u);
  EXPECT_EQ(totals.unknown, 0u);
  EXPECT_EQ(totals.stale, 1u);  // t-a, last seen at 2000
  using Versions = std::vector<std::pair<std::optional<std::uint64_t>, std::uint64_t>>;
  EXPECT_EQ(totals.policy_versions, (Versions{{7, 3}}));

  EnrollOk(AddToken("g", 1, 5000), "t-e", "m-e", "k-e");
  const FleetTotals later = store_->FleetSummary(999);
  EXPECT_EQ(later.terminals, 5u);
  EXPECT_EQ(later.unknown, 1u);
  EXPECT_EQ(later.stale, 0u);
  EXPECT_EQ(later.policy_versions, (Versions{{std::nullopt, 1}, {7, 3}}));
}

TEST_P(StoreTest, ReportForAnUnknownTerminalIsAStoreError) {
  EXPECT_THROW(store_->IngestReport("t-none", MakeReport(1, "pass"), 2000), StoreError);
  EXPECT_FALSE(store_->HasReport("t-none", 1));
}

// Two stores on one database stand for two collectors: each is a connection of its own.
TEST_P(StoreTest, ConcurrentReportsFromTwoStoresStoreEachSequenceOnce) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  auto other = OpenStore(db_->uri());
  constexpr std::uint64_t kReports = 40;
  auto send = [](Store& store) {
    for (std::uint64_t seq = 1; seq <= kReports; ++seq) {
      store.IngestReport("t-a", MakeReport(seq, seq % 2 ? "pass" : "fail"), 2000);
    }
  };
  std::thread a(send, std::ref(*store_));
  std::thread b(send, std::ref(*other));
  a.join();
  b.join();
  EXPECT_EQ(store_->Events(0, 1000).size(), kReports);
  EXPECT_EQ(store_->FindTerminal("t-a")->last_sequence, kReports);
  EXPECT_EQ(store_->Checks("t-a")[1].result, "fail");  // the newest report's status
}

TEST_P(StoreTest, ConcurrentEnrollmentsTakeEachTokenUseOnceAndSeeEachOthersMachineIds) {
  const std::string token = AddToken("g", 6, 5000);
  auto other = OpenStore(db_->uri());
  std::atomic<int> enrolled{0};
  // Eight enrollments of one machine-id under eight keys, four through each store.
  auto enroll = [&](Store& store, int first) {
    for (int i = first; i < first + 4; ++i) {
      const std::string id = "t-" + std::to_string(i);
      const auto out = store.Enroll(
          token, {id, "machine-x", "c" + id, "key-" + std::to_string(i), "h", "s", "o"}, 1000);
      if (out.status == EnrollStatus::kOk) ++enrolled;
    }
  };
  std::thread a(enroll, std::ref(*store_), 0);
  std::thread b(enroll, std::ref(*other), 4);
  a.join();
  b.join();
  EXPECT_EQ(enrolled, 6);
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 0);
  int originals = 0;
  for (const FleetEntry& e : store_->Fleet()) originals += e.terminal.cloned ? 0 : 1;
  EXPECT_EQ(originals, 1);  // the first to commit; every later one is flagged
}

TEST_P(StoreTest, EnrollBatchCountsTokenUsesDownInOrderAndStoresTheRest) {
  const std::string token = AddToken("g", 3, 5000);
  const std::string expired = AddToken("g", 5, 1000);
  const std::vector<EnrollItem> batch = {
      {token, {"t-1", "machine-x", "c1", "key-1", "h", "s", "o"}},
      {expired, {"t-2", "machine-y", "c2", "key-2", "h", "s", "o"}},
      {token, {"t-3", "machine-x", "c3", "key-3", "h", "s", "o"}},  // a clone of t-1
      {"unknown", {"t-4", "machine-z", "c4", "key-4", "h", "s", "o"}},
      {token, {"t-5", "machine-v", "c5", "key-5", "h", "s", "o"}},
      {token, {"t-6", "machine-w", "c6", "key-6", "h", "s", "o"}},  // no use left
  };
  const std::vector<EnrollResult> results = store_->EnrollBatch(batch, 2000);
  ASSERT_EQ(results.size(), batch.size());
  for (const EnrollResult& r : results) EXPECT_EQ(r.error, "");
  EXPECT_EQ(results[0].outcome.status, EnrollStatus::kOk);
  EXPECT_EQ(results[1].outcome.status, EnrollStatus::kTokenExpired);
  EXPECT_EQ(results[2].outcome.status, EnrollStatus::kOk);
  ASSERT_TRUE(results[2].outcome.terminal);
  EXPECT_TRUE(results[2].outcome.terminal->cloned);
  EXPECT_EQ(results[2].outcome.terminal->cloned_from, "t-1");
  EXPECT_EQ(results[3].outcome.status, EnrollStatus::kUnknownToken);
  EXPECT_EQ(results[4].outcome.status, EnrollStatus::kOk);
  EXPECT_EQ(results[5].outcome.status, EnrollStatus::kTokenExhausted);
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 0);
  EXPECT_EQ(store_->FindEnrollmentToken(expired)->first.uses_left, 5);
  EXPECT_TRUE(store_->FindTerminal("t-5"));
  EXPECT_FALSE(store_->FindTerminal("t-2"));
  EXPECT_FALSE(store_->FindTerminal("t-6"));
  EXPECT_EQ(store_->Fleet().size(), 3u);
}

TEST_P(StoreTest, EnrollBatchRefusesOnlyTheEnrollmentThatFails) {
  const std::string token = AddToken("g", 5, 5000);
  // The second reuses the first's terminal id: its insert fails, the others are stored.
  const std::vector<EnrollItem> batch = {
      {token, {"t-1", "machine-1", "c1", "key-1", "h", "s", "o"}},
      {token, {"t-1", "machine-2", "c2", "key-2", "h", "s", "o"}},
      {token, {"t-3", "machine-3", "c3", "key-3", "h", "s", "o"}},
  };
  const std::vector<EnrollResult> results = store_->EnrollBatch(batch, 2000);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].error, "");
  EXPECT_EQ(results[0].outcome.status, EnrollStatus::kOk);
  EXPECT_NE(results[1].error, "");
  EXPECT_EQ(results[2].error, "");
  EXPECT_EQ(results[2].outcome.status, EnrollStatus::kOk);
  EXPECT_EQ(store_->FindTerminal("t-1")->machine_id, "machine-1");
  EXPECT_TRUE(store_->FindTerminal("t-3"));
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 3);  // the failed one's use kept
}

TEST_P(StoreTest, ConcurrentPushesKeepOnlyHigherVersions) {
  auto other = OpenStore(db_->uri());
  std::atomic<int> stored{0};
  auto push = [&](Store& store, std::uint64_t first) {
    for (std::uint64_t v = first; v <= 60; v += 2) {
      if (store.StorePolicy({v, "h", "b" + std::to_string(v), 1}) == PolicyStoreStatus::kStored) {
        ++stored;
      }
    }
  };
  std::thread a(push, std::ref(*store_), 1);
  std::thread b(push, std::ref(*other), 2);
  a.join();
  b.join();
  EXPECT_EQ(store_->LatestPolicy()->version, 60u);
  // Exactly the pushes answered "stored" are in the table.
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM policies"), std::to_string(stored.load()));
}

MfaCredential Credential(const std::string& user, std::vector<std::string> groups) {
  MfaCredential c;
  c.user = user;
  c.groups = std::move(groups);
  c.sealed_secret = std::string("sealed\0bytes-", 13) + user;
  c.enrolled_at = 3000;
  return c;
}

std::vector<std::string> Describe(const std::vector<MfaChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    out.push_back(
        std::to_string(c.revision) + " " + c.credential.user + (c.remove ? " remove" : " import") +
        (c.unlocked_at_revision ? " unlock@" + std::to_string(c.unlocked_at_revision) : ""));
  }
  return out;
}

TEST_P(StoreTest, MfaCredentialsReachOnlyTheirGroupsInRevisionOrder) {
  EXPECT_EQ(store_->EnrollMfa(Credential("alice", {"g1", "g2"})).revision, 1u);
  EXPECT_EQ(store_->EnrollMfa(Credential("bob", {"g2"})).revision, 2u);
  const auto g1 = store_->MfaChanges("g1", 0, 100);
  ASSERT_EQ(g1.size(), 1u);
  EXPECT_EQ(g1[0].credential.sealed_secret, Credential("alice", {}).sealed_secret);
  EXPECT_EQ(g1[0].credential.enrolled_at, 3000);
  EXPECT_EQ(g1[0].credential.algorithm, "SHA1");
  EXPECT_EQ(g1[0].credential.digits, 6);
  EXPECT_EQ(g1[0].credential.period, 30);
  EXPECT_EQ(Describe(store_->MfaChanges("g2", 0, 100)),
            (std::vector<std::string>{"1 alice import", "2 bob import"}));
  EXPECT_EQ(Describe(store_->MfaChanges("g2", 1, 100)), (std::vector<std::string>{"2 bob import"}));
  EXPECT_EQ(store_->MfaChanges("g2", 0, 1).size(), 1u);
  EXPECT_TRUE(store_->MfaChanges("other", 0, 100).empty());
}

TEST_P(StoreTest, MfaResetUnlockAndReenrollAreNewRevisions) {
  store_->EnrollMfa(Credential("alice", {"g1", "g2"}));
  EXPECT_EQ(store_->EnrollMfa(Credential("alice", {"g1"})).status,
            MfaWriteStatus::kAlreadyEnrolled);
  EXPECT_EQ(store_->UnlockMfa("alice").revision, 2u);
  EXPECT_EQ(Describe(store_->MfaChanges("g1", 1, 100)),
            (std::vector<std::string>{"2 alice import unlock@2"}));
  EXPECT_EQ(store_->ResetMfa("alice").revision, 3u);
  EXPECT_EQ(Describe(store_->MfaChanges("g1", 0, 100)),
            (std::vector<std::string>{"3 alice remove"}));
  // The secret is gone from the store with the reset.
  EXPECT_EQ(db_->Query("SELECT length(sealed_secret) FROM mfa_credentials"), "0");
  EXPECT_EQ(store_->ResetMfa("alice").status, MfaWriteStatus::kNotEnrolled);
  EXPECT_EQ(store_->UnlockMfa("alice").status, MfaWriteStatus::kNotEnrolled);
  EXPECT_EQ(store_->UnlockMfa("nobody").status, MfaWriteStatus::kNotEnrolled);
  // Enrolled again in g1 only: g2's terminals are told to remove it.
  EXPECT_EQ(store_->EnrollMfa(Credential("alice", {"g1"})).revision, 4u);
  EXPECT_EQ(Describe(store_->MfaChanges("g1", 3, 100)),
            (std::vector<std::string>{"4 alice import"}));
  EXPECT_EQ(Describe(store_->MfaChanges("g2", 3, 100)),
            (std::vector<std::string>{"4 alice remove"}));
}

TEST_P(StoreTest, ConcurrentMfaWritesGetDistinctRevisions) {
  auto other = OpenStore(db_->uri());
  auto enroll = [](Store& store, const std::string& prefix) {
    for (int i = 0; i < 20; ++i) store.EnrollMfa(Credential(prefix + std::to_string(i), {"g"}));
  };
  std::thread a(enroll, std::ref(*store_), "a");
  std::thread b(enroll, std::ref(*other), "b");
  a.join();
  b.join();
  const auto changes = store_->MfaChanges("g", 0, 100);
  ASSERT_EQ(changes.size(), 40u);
  for (std::size_t i = 1; i < changes.size(); ++i) {
    EXPECT_LT(changes[i - 1].revision, changes[i].revision);
  }
}

Event Accepted(const std::string& user, const std::string& step, UnixTime time) {
  return {0,
          "",
          0,
          time,
          "mfa.success",
          R"({"user":")" + user + R"(","service":"login","step":")" + step + R"("})"};
}

std::vector<Event> OfType(const std::vector<Event>& events, const std::string& type) {
  std::vector<Event> out;
  for (const auto& e : events) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

TEST_P(StoreTest, OneCodeAcceptedOnTwoTerminalsRaisesAnAlert) {
  const std::string token = AddToken("g", 3, 5000);
  EnrollOk(token, "t-a", "m1", "k1");
  EnrollOk(token, "t-b", "m2", "k2");
  Report ra;
  ra.sequence = 1;
  ra.events = {Accepted("alice", "58000000", 2000), Accepted("bob", "58000000", 2000)};
  store_->IngestReport("t-a", ra, 2001);
  EXPECT_TRUE(OfType(store_->Events(0, 100), std::string(kCodeReusedEvent)).empty());
  // The same report again (a resend) is no reuse, nor is another step on another terminal.
  store_->IngestReport("t-a", ra, 2002);
  Report rb;
  rb.sequence = 1;
  rb.events = {Accepted("alice", "58000001", 2030)};
  store_->IngestReport("t-b", rb, 2031);
  EXPECT_TRUE(OfType(store_->Events(0, 100), std::string(kCodeReusedEvent)).empty());

  Report rb2;
  rb2.sequence = 2;
  rb2.events = {Accepted("alice", "58000000", 2010)};
  store_->IngestReport("t-b", rb2, 2040);
  const auto alerts = OfType(store_->Events(0, 100), std::string(kCodeReusedEvent));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].terminal_id, "t-b");
  EXPECT_EQ(alerts[0].sequence, 2u);
  EXPECT_EQ(alerts[0].time, 2010);
  const auto data = boost::json::parse(alerts[0].data).as_object();
  EXPECT_EQ(data.at("user"), "alice");
  EXPECT_EQ(data.at("step"), "58000000");
  EXPECT_EQ(data.at("first_terminal"), "t-a");
  EXPECT_EQ(data.at("terminal"), "t-b");
}

TEST_P(StoreTest, ConcurrentReportsOfOneCodeOnTwoTerminalsRaiseAnAlert) {
  const std::string token = AddToken("g", 2, 5000);
  EnrollOk(token, "t-a", "m1", "k1");
  EnrollOk(token, "t-b", "m2", "k2");
  auto other = OpenStore(db_->uri());
  constexpr int kSteps = 30;
  auto send = [](Store& store, const std::string& terminal) {
    for (int i = 1; i <= kSteps; ++i) {
      Report r;
      r.sequence = static_cast<std::uint64_t>(i);
      r.events = {Accepted("alice", std::to_string(1000 + i), 2000)};
      store.IngestReport(terminal, r, 2000);
    }
  };
  std::thread a(send, std::ref(*store_), "t-a");
  std::thread b(send, std::ref(*other), "t-b");
  a.join();
  b.join();
  EXPECT_EQ(OfType(store_->Events(0, 1000), std::string(kCodeReusedEvent)).size(),
            static_cast<std::size_t>(kSteps));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(Backend::kSqlite),
                         [](const auto&) { return std::string("Sqlite"); });
INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(Backend::kPostgres),
                         [](const auto&) { return std::string("Postgres"); });

TEST(SqliteStore, UsesWal) {
  const fs::path dir = MakeTempDir();
  const std::string path = (dir / "collector.db").string();
  OpenSqliteStore(path);
  auto db = TestDatabase::Create(Backend::kSqlite, dir);
  EXPECT_EQ(db->Query("PRAGMA journal_mode"), "wal");
  fs::remove_all(dir);
}

TEST(SqliteStore, UnopenablePathNamesTheFile) {
  const fs::path dir = MakeTempDir();
  try {
    OpenStore((dir / "missing" / "x.db").string());
    ADD_FAILURE() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x.db"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(PostgresStore, UnreachableServerNamesTheDatabaseButNotThePassword) {
  const fs::path dir = MakeTempDir();
  try {
    OpenStore("postgresql://mamori:s3cret-pw@/fleetdb?host=" + (dir / "nothing").string() +
              "&port=5999");
    ADD_FAILURE() << "expected StoreError";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("postgresql://mamori@"), std::string::npos) << message;
    EXPECT_NE(message.find(":5999/fleetdb"), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  }
  EXPECT_EQ(DescribeDatabase("postgresql://u:pw@db.example.lg.jp:6432/fleet"),
            "postgresql://u@db.example.lg.jp:6432/fleet");
  EXPECT_EQ(DescribeDatabase("/var/lib/mamori-collector/collector.db"),
            "/var/lib/mamori-collector/collector.db");
  fs::remove_all(dir);
}

TEST(PostgresStore, AConnectionTheServerDroppedIsReopened) {
  const fs::path dir = MakeTempDir();
  auto db = TestDatabase::Create(Backend::kPostgres, dir);
  auto store = OpenStore(db->uri());
  const NewToken t = GenerateToken(kEnrollmentTokenPrefix);
  store->CreateEnrollmentToken({t.id, "g", 1, 5000, 100}, t.secret_hash);
  ASSERT_EQ(store->Enroll(t.id, {"t-a", "m", "c", "k", "h", "s", "o"}, 1000).status,
            EnrollStatus::kOk);
  const std::string drop =
      "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
      "current_database() AND pid <> pg_backend_pid()";
  // Two connections: the writer's and the readers'.
  ASSERT_EQ(db->Query(drop), "2");
  EXPECT_TRUE(store->FindTerminal("t-a"));        // a read meets its dropped connection
  EXPECT_TRUE(store->FindEnrollmentToken(t.id));  // a transaction: BEGIN meets it
  ASSERT_EQ(db->Query(drop), "2");
  EXPECT_EQ(store->IngestReport("t-a", MakeReport(1, "pass"), 2000), 1u);  // a single statement
  EXPECT_EQ(store->FindTerminal("t-a")->last_sequence, 1u);
  EXPECT_TRUE(store->HasReport("t-a", 1));
  store.reset();
  db.reset();
  fs::remove_all(dir);
}

TEST(PostgresStore, StorePolicyNotifiesListenersAtCommit) {
  const fs::path dir = MakeTempDir();
  auto db = TestDatabase::Create(Backend::kPostgres, dir);
  auto store = OpenStore(db->uri());
  std::atomic<int> calls{0};
  {
    // A recheck far beyond the test's wait: only the notification can wake it in time.
    PolicyWatch watch(db->uri(), std::chrono::seconds(60), [&calls] { ++calls; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (calls == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(calls, 1);  // the call after LISTEN, for whatever was stored before
    ASSERT_EQ(store->StorePolicy({3, "h", "b", 1}), PolicyStoreStatus::kStored);
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (calls == 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(calls, 2);
    // A refused push commits nothing and notifies nobody.
    EXPECT_EQ(store->StorePolicy({2, "h", "b", 1}), PolicyStoreStatus::kNotNewer);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(calls, 2);
  }
  store.reset();
  db.reset();
  fs::remove_all(dir);
}

TEST(PostgresStore, WatchRechecksWithoutANotification) {
  const fs::path dir = MakeTempDir();
  auto db = TestDatabase::Create(Backend::kPostgres, dir);
  auto store = OpenStore(db->uri());
  std::atomic<int> calls{0};
  {
    PolicyWatch watch(db->uri(), std::chrono::milliseconds(200), [&calls] { ++calls; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (calls == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(calls, 1);
    // Stored behind the store's back, as if its notification had been lost.
    db->Query("INSERT INTO policies (version, hash, bundle, stored_at) VALUES (5, 'h', 'b', 1)");
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (calls == 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(calls, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(calls, 2);  // no change, no wake-up
  }
  store.reset();
  db.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mamori::collector
