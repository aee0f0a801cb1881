// Group commit through the request workers, on a real SQLite file: a report is answered only
// after the transaction holding it committed, a report that fails in a batch costs the others
// nothing, and a full queue answers 503 with Retry-After. A second connection holding the write
// lock keeps the writer from committing while the test looks.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "collector/request_workers.h"
#include "mamori/collector/sqlite_store.h"
#include "mamori/collector/tokens.h"
#include "test_pki.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A connection of the test's own beside the collector's.
class RawDb {
 public:
  explicit RawDb(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
  }
  bool HasTerminal(const std::string& id) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT 1 FROM terminals WHERE id = ?", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    const bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
  }
  bool HasReport(const std::string& terminal, std::uint64_t sequence) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT 1 FROM reports WHERE terminal_id = ? AND sequence = ?", -1, &s,
                       nullptr);
    sqlite3_bind_text(s, 1, terminal.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(sequence));
    const bool found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct Answer {
  int status = 0;
  int retry_after = 0;
  bool committed_when_answered = false;
};

class WorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-workers-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store_ = OpenSqliteStore(db_path());
    ca_ = std::make_unique<CertificateAuthority>(CertificateAuthority::LoadOrCreate(*store_, 1000));
    api_ = std::make_unique<Api>(*store_, *ca_, metrics_, ApiOptions{}, [] { return 2000; });
    const NewToken token = GenerateToken(kEnrollmentTokenPrefix);
    store_->CreateEnrollmentToken({token.id, "g", 10, 5000, 100}, token.secret_hash);
    token_text_ = token.text;
    for (const char* id : {"t-a", "t-b", "t-gone"}) {
      const std::string name = id;
      ASSERT_EQ(
          store_
              ->Enroll(token.id, {name, "m-" + name, "fp-" + name, "k-" + name, "h", "", ""}, 1000)
              .status,
          EnrollStatus::kOk);
    }
  }
  void TearDown() override {
    workers_.reset();
    api_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string db_path() const { return (dir_ / "c.db").string(); }

  void StartWorkers(WorkerOptions options) {
    workers_ = std::make_unique<RequestWorkers>(*api_, options);
  }

  // Posts report `sequence` of `terminal`; its answer lands in answers_[key].
  void Post(const std::string& key, const std::string& terminal, std::uint64_t sequence) {
    HttpRequest request{
        "POST", "/v1/reports", "",
        R"({"sequence":)" + std::to_string(sequence) + R"(,"checks":[{"id":"c","result":"pass"}]})",
        PeerCertificate{terminal, std::string(kTerminalCertOu), "fp-" + terminal}};
    const bool queued =
        workers_->Submit(true, std::move(request), [=, this](HttpResponse response) {
          // Looked at through another connection, at the moment the answer leaves.
          RawDb observer(db_path());
          const bool committed = observer.HasReport(terminal, sequence);
          std::lock_guard lock(mutex_);
          answers_[key] = {response.status, response.retry_after_seconds, committed};
          answered_.notify_all();
        });
    ASSERT_TRUE(queued);
  }

  // Posts an enrollment of `machine_id`; its answer lands in answers_[key].
  void PostEnrollment(const std::string& key, const std::string& machine_id) {
    const auto csr = mamori::testing::MakeCsr(mamori::testing::KeyKind::kP256);
    boost::json::object body{{"token", token_text_},
                             {"csr", csr.csr_pem},
                             {"facts", {{"machine_id", machine_id}, {"hostname", "h"}}}};
    HttpRequest request{"POST", "/v1/enroll", "", boost::json::serialize(body), std::nullopt};
    const bool queued =
        workers_->Submit(true, std::move(request), [=, this](HttpResponse response) {
          bool committed = false;
          boost::system::error_code ec;
          const boost::json::value answer = boost::json::parse(response.body, ec);
          if (!ec && answer.is_object() && answer.as_object().contains("terminal_id")) {
            RawDb observer(db_path());
            committed = observer.HasTerminal(std::string(answer.at("terminal_id").as_string()));
          }
          std::lock_guard lock(mutex_);
          answers_[key] = {response.status, response.retry_after_seconds, committed};
          answered_.notify_all();
        });
    ASSERT_TRUE(queued);
  }

  std::map<std::string, Answer> WaitForAnswers(std::size_t count) {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(answered_.wait_for(lock, 20s, [&] { return answers_.size() >= count; }));
    return answers_;
  }

  std::size_t AnswersSoFar() {
    std::lock_guard lock(mutex_);
    return answers_.size();
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CertificateAuthority> ca_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<RequestWorkers> workers_;
  std::string token_text_;
  std::mutex mutex_;
  std::condition_variable answered_;
  std::map<std::string, Answer> answers_;
};

TEST_F(WorkersTest, AReportIsAnsweredOnlyAfterItsCommitAndABadOneCostsTheOthersNothing) {
  StartWorkers(WorkerOptions{});
  RawDb locker(db_path());
  locker.Exec("BEGIN IMMEDIATE");
  Post("a1", "t-a", 1);
  std::this_thread::sleep_for(200ms);  // the writer now waits for the lock, holding a1
  Post("a2", "t-a", 2);
  Post("b1", "t-b", 1);
  Post("gone1", "t-gone", 1);  // authenticated now, gone by the time its batch commits
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(AnswersSoFar(), 0u) << "answered while nothing could commit";
  locker.Exec("DELETE FROM terminals WHERE id = 't-gone'");
  locker.Exec("COMMIT");

  const auto answers = WaitForAnswers(4);
  ASSERT_EQ(answers.size(), 4u);
  for (const char* key : {"a1", "a2", "b1"}) {
    EXPECT_EQ(answers.at(key).status, 200) << key;
    EXPECT_TRUE(answers.at(key).committed_when_answered) << key;
  }
  EXPECT_EQ(answers.at("gone1").status, 500);
  EXPECT_FALSE(answers.at("gone1").committed_when_answered);
  EXPECT_EQ(store_->FindTerminal("t-a")->last_sequence, 2u);
  EXPECT_TRUE(store_->HasReport("t-b", 1));
}

TEST_F(WorkersTest, EnrollmentsAreAnsweredOnlyAfterTheirCommitAndCountTheTokenDown) {
  StartWorkers(WorkerOptions{});
  RawDb locker(db_path());
  locker.Exec("BEGIN IMMEDIATE");
  for (int i = 0; i < 9; ++i) PostEnrollment("e" + std::to_string(i), "m-" + std::to_string(i));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(AnswersSoFar(), 0u) << "answered while nothing could commit";
  locker.Exec("COMMIT");

  const auto answers = WaitForAnswers(9);
  ASSERT_EQ(answers.size(), 9u);
  int enrolled = 0, refused = 0;
  for (const auto& [key, answer] : answers) {
    if (answer.status == 201) {
      ++enrolled;
      EXPECT_TRUE(answer.committed_when_answered) << key;
    } else {
      ++refused;
      EXPECT_EQ(answer.status, 401) << key;
    }
  }
  // The token had 7 uses left after the fixture's three enrollments.
  EXPECT_EQ(enrolled, 7);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(store_->FindEnrollmentToken(ParseToken(token_text_, kEnrollmentTokenPrefix)->id)
                ->first.uses_left,
            0);
}

TEST_F(WorkersTest, AFullReportQueueAnswers503WithRetryAfter) {
  WorkerOptions options;
  options.threads = 1;
  options.max_pending = 1;
  options.retry_after_seconds = 3;
  StartWorkers(options);
  RawDb locker(db_path());
  locker.Exec("BEGIN IMMEDIATE");
  Post("a1", "t-a", 1);
  std::this_thread::sleep_for(200ms);  // the writer holds a1 and waits for the lock
  Post("a2", "t-a", 2);                // waits for the writer: the queue is full
  Post("b1", "t-b", 1);                // refused
  std::this_thread::sleep_for(300ms);
  locker.Exec("COMMIT");

  const auto answers = WaitForAnswers(3);
  int refused = 0;
  for (const auto& [key, answer] : answers) {
    if (answer.status == 503) {
      ++refused;
      EXPECT_EQ(answer.retry_after, 3) << key;
      EXPECT_FALSE(answer.committed_when_answered) << key;
    } else {
      EXPECT_EQ(answer.status, 200) << key;
      EXPECT_TRUE(answer.committed_when_answered) << key;
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(answers.at("a1").status, 200);
}

}  // namespace
}  // namespace mamori::collector
