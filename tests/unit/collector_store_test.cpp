#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "mamori/collector/sqlite_store.h"
#include "mamori/collector/tokens.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-store-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "collector.db").string();
    store_ = OpenSqliteStore(path_);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
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
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, UsesWalAndRecordsTheSchemaVersion) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_migrations", -1, &stmt, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), SqliteSchemaVersion());
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, ReopeningKeepsDataAndDoesNotReapplyMigrations) {
  const std::string token = AddToken("shimin-ka", 1, 5000);
  store_.reset();
  store_ = OpenSqliteStore(path_);
  EXPECT_TRUE(store_->FindEnrollmentToken(token));
}

TEST_F(StoreTest, RefusesADatabaseFromANewerSchema) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations (version) VALUES (999)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(OpenSqliteStore(path_), StoreError);
}

TEST_F(StoreTest, UnopenablePathNamesTheFile) {
  try {
    OpenSqliteStore((dir_ / "missing" / "x.db").string());
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x.db"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, EnrollmentTokenIsStoredHashedAndConsumedPerUse) {
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

TEST_F(StoreTest, ExpiredOrUnknownTokenEnrollsNothing) {
  const std::string token = AddToken("g", 5, 1000);
  EXPECT_EQ(store_->Enroll(token, {"t-a", "m", "c", "k", "h", "s", "o"}, 1000).status,
            EnrollStatus::kTokenExpired);
  EXPECT_EQ(store_->Enroll("nope", {"t-a", "m", "c", "k", "h", "s", "o"}, 10).status,
            EnrollStatus::kUnknownToken);
  EXPECT_FALSE(store_->FindTerminal("t-a"));
  EXPECT_EQ(store_->FindEnrollmentToken(token)->first.uses_left, 5);
}

TEST_F(StoreTest, SameMachineIdUnderAnotherKeyIsAFlaggedCloneNotAMerge) {
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

TEST_F(StoreTest, RevokeMarksOnlyThatTerminal) {
  const std::string token = AddToken("g", 5, 5000);
  EnrollOk(token, "t-a", "m-a", "k-a");
  EnrollOk(token, "t-b", "m-b", "k-b");
  EXPECT_TRUE(store_->RevokeTerminal("t-a"));
  EXPECT_FALSE(store_->RevokeTerminal("t-none"));
  EXPECT_TRUE(store_->FindTerminal("t-a")->revoked);
  EXPECT_FALSE(store_->FindTerminal("t-b")->revoked);
}

TEST_F(StoreTest, ApiTokensKeepTheirRole) {
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

TEST_F(StoreTest, ResentSequenceIsStoredOnce) {
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

TEST_F(StoreTest, ALateOlderReportAddsEventsButKeepsNewerStatus) {
  EnrollOk(AddToken("g", 1, 5000), "t-a", "m", "k");
  store_->IngestReport("t-a", MakeReport(5, "pass"), 2000);
  EXPECT_EQ(store_->IngestReport("t-a", MakeReport(4, "fail"), 2001), 5u);
  EXPECT_EQ(store_->Checks("t-a")[1].result, "pass");
  EXPECT_EQ(store_->Events(0, 100).size(), 2u);
}

TEST_F(StoreTest, CheckHistoryAndFirstFailedTime) {
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

TEST_F(StoreTest, FleetCountsResults) {
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

TEST_F(StoreTest, EventsSinceTime) {
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

TEST_F(StoreTest, PolicyVersionsOnlyMoveUpIncludingAbove2To63) {
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

TEST_F(StoreTest, SettingIsWrittenOnce) {
  EXPECT_EQ(store_->PutSettingIfAbsent("ca", std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(store_->PutSettingIfAbsent("ca", "other"), std::string("a\0b", 3));
  EXPECT_EQ(store_->Setting("ca"), std::string("a\0b", 3));
  EXPECT_FALSE(store_->Setting("none"));
}

TEST_F(StoreTest, AFailedTransactionLeavesNothing) {
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

}  // namespace
}  // namespace mamori::collector
