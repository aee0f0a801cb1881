// The journal as the collector's spool, on real files: sequences across restarts, sealed reports
// that are re-sent unchanged, deletion only after the acknowledgement, the bound, torn writes, and
// a second process appending.
#include "mamori/agent/event_journal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "temp_dir.h"

namespace mamori::agent {
namespace {

namespace fs = std::filesystem;

class EventJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform::SecureDir::Open(tmp_.path() + "/state", 0700, &state_).ok());
  }
  std::unique_ptr<EventJournal> OpenJournal(EventJournal::Options options = {}) {
    std::unique_ptr<EventJournal> j;
    platform::Status s = EventJournal::Open(*state_, options, &j);
    EXPECT_TRUE(s.ok()) << s.message();
    return j;
  }
  static Event Ev(const std::string& type, const std::string& n = "") {
    return Event{1763900000, type, {{"n", n}}};
  }
  std::vector<fs::path> Segments() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(tmp_.path() + "/state/journal")) {
      if (e.path().extension() == ".jsonl") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<std::string> Types(const EventJournal::Batch& b) {
    std::vector<std::string> out;
    for (const auto& e : b.events) out.emplace_back(e.at("type").as_string());
    return out;
  }
  std::uint64_t Pending(EventJournal& j) {
    std::uint64_t n = 0;
    EXPECT_TRUE(j.PendingEvents(&n).ok());
    return n;
  }

  mamori::testing::TempDir tmp_;
  std::unique_ptr<platform::SecureDir> state_;
};

TEST_F(EventJournalTest, BatchCarriesEventsInTheCollectorsShape) {
  auto j = OpenJournal();
  ASSERT_TRUE(j->Record(Ev("mfa.success", "1")).ok());
  ASSERT_TRUE(j->Record(Ev("mfa.failure", "2")).ok());
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
  EXPECT_EQ(Types(b), (std::vector<std::string>{"mfa.success", "mfa.failure"}));
  EXPECT_EQ(b.events_through, 2u);
  EXPECT_EQ(b.sequence, 3u);  // the marker's own seq: after every event it covers
  EXPECT_EQ(b.events[0].at("time").as_string(), "2025-11-23T12:13:20Z");
  EXPECT_EQ(b.events[1].at("data").at("n").as_string(), "2");
  EXPECT_EQ(b.events[0].as_object().size(), 3u);  // time, type, data: no seq
}

TEST_F(EventJournalTest, UnacknowledgedReportIsResentUnchangedAfterRestart) {
  EventJournal::Batch first;
  {
    auto j = OpenJournal();
    ASSERT_TRUE(j->Record(Ev("a")).ok());
    ASSERT_TRUE(j->Record(Ev("b")).ok());
    ASSERT_TRUE(j->NextBatch(100, 1 << 20, &first).ok());
    // Recorded while the report was in flight: not part of it.
    ASSERT_TRUE(j->Record(Ev("c")).ok());
  }  // the process dies before the acknowledgement
  auto j = OpenJournal();
  EventJournal::Batch again;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &again).ok());
  EXPECT_EQ(again.sequence, first.sequence);
  EXPECT_EQ(Types(again), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(j->Ack(again.sequence).ok());
  EXPECT_EQ(Pending(*j), 1u);
  EventJournal::Batch next;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &next).ok());
  EXPECT_GT(next.sequence, first.sequence);
  EXPECT_EQ(Types(next), (std::vector<std::string>{"c"}));
}

TEST_F(EventJournalTest, AckDeletesAndSequencesSurviveRestart) {
  std::uint64_t last = 0;
  {
    auto j = OpenJournal();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->Record(Ev("e")).ok());
    EventJournal::Batch b;
    ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
    ASSERT_TRUE(j->Ack(b.sequence).ok());
    EXPECT_EQ(Pending(*j), 0u);
    last = b.sequence;
  }
  // Only an empty segment is left: the events are gone from disk.
  for (const auto& seg : Segments()) EXPECT_EQ(fs::file_size(seg), 0u) << seg;
  auto j = OpenJournal();
  ASSERT_TRUE(j->Record(Ev("after")).ok());
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
  EXPECT_EQ(b.events_through, last + 1);
  EXPECT_EQ(b.sequence, last + 2);
  EXPECT_EQ(Types(b), (std::vector<std::string>{"after"}));
}

TEST_F(EventJournalTest, EmptyReportsGetFreshSequences) {
  auto j = OpenJournal();
  EventJournal::Batch a, b;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &a).ok());
  EXPECT_TRUE(a.events.empty());
  ASSERT_TRUE(j->Ack(a.sequence).ok());
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
  EXPECT_GT(b.sequence, a.sequence);
}

TEST_F(EventJournalTest, BatchesAreLimitedAndDrainInOrder) {
  auto j = OpenJournal();
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(j->Record(Ev("e", std::to_string(i))).ok());
  std::vector<std::string> seen;
  std::uint64_t previous = 0;
  for (int round = 0; round < 3; ++round) {
    EventJournal::Batch b;
    ASSERT_TRUE(j->NextBatch(10, 1 << 20, &b).ok());
    EXPECT_GT(b.sequence, previous);
    previous = b.sequence;
    EXPECT_LE(b.events.size(), 10u);
    for (const auto& e : b.events) seen.emplace_back(e.at("data").at("n").as_string());
    ASSERT_TRUE(j->Ack(b.sequence).ok());
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], std::to_string(i));
  EXPECT_EQ(Pending(*j), 0u);
}

TEST_F(EventJournalTest, TornLastLineIsSkippedAndNeverAppendedTo) {
  {
    auto j = OpenJournal();
    ASSERT_TRUE(j->Record(Ev("whole")).ok());
  }
  const auto segments = Segments();
  ASSERT_EQ(segments.size(), 1u);
  {
    std::ofstream out(segments[0], std::ios::app);
    out << R"({"seq":2,"time":"2025-11-23T12:13:20Z","type":"to)";  // the crash cut it here
  }
  auto j = OpenJournal();
  ASSERT_TRUE(j->Record(Ev("next")).ok());
  EXPECT_EQ(Segments().size(), 2u);  // a new segment, never after the torn bytes
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
  EXPECT_EQ(Types(b), (std::vector<std::string>{"whole", "next"}));
  EXPECT_EQ(b.events_through, 2u);  // the torn line's seq was never issued
}

TEST_F(EventJournalTest, BoundDropsOldestAndSaysHowMany) {
  EventJournal::Options options;
  options.max_bytes = 4096;
  options.segment_bytes = 1024;
  auto j = OpenJournal(options);
  const std::string pad(100, 'x');
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(j->Record(Ev("e", std::to_string(i) + pad)).ok());
  std::uint64_t total = 0;
  for (const auto& seg : Segments()) total += fs::file_size(seg);
  EXPECT_LE(total, options.max_bytes);
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &b).ok());
  std::uint64_t dropped = 0;
  std::vector<int> kept;
  for (const auto& e : b.events) {
    if (e.at("type") == "journal.dropped") {
      dropped += std::stoull(std::string(e.at("data").at("count").as_string()));
    } else {
      kept.push_back(std::stoi(std::string(e.at("data").at("n").as_string())));
    }
  }
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.back(), 199);
  // Oldest first, and every lost event is counted.
  EXPECT_EQ(dropped, static_cast<std::uint64_t>(kept.front()));
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  EXPECT_EQ(kept.size() + dropped, 200u);
}

// The policy's spool bound replaces the one the journal was opened with, never below two segments;
// segments written under a higher bound stay readable.
TEST_F(EventJournalTest, ALoweredBoundAppliesFromTheNextEvent) {
  EventJournal::Options options;
  options.max_bytes = 64 * 1024;
  options.segment_bytes = 1024;
  auto j = OpenJournal(options);
  const std::string pad(100, 'x');
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(j->Record(Ev("e", std::to_string(i) + pad)).ok());
  EXPECT_EQ(Pending(*j), 200u);
  j->SetMaxBytes(10);  // below two segments: two segments it is
  ASSERT_TRUE(j->Record(Ev("e", "200")).ok());
  std::uint64_t total = 0;
  for (const auto& seg : Segments()) total += fs::file_size(seg);
  EXPECT_LE(total, 2 * options.segment_bytes);
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &b).ok());
  ASSERT_GE(b.events.size(), 2u);
  EXPECT_EQ(b.events[b.events.size() - 2].at("data").at("n"), "200");
  EXPECT_EQ(b.events.back().at("type"), "journal.dropped");
}

// A refused report is withdrawn: its events go out again under a new sequence, in smaller
// batches if asked. Quarantined events leave the journal for a file of their own, counted.
TEST_F(EventJournalTest, WithdrawnAndQuarantinedReports) {
  auto j = OpenJournal();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(j->Record(Ev("e", std::to_string(i))).ok());
  EventJournal::Batch first;
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &first).ok());
  ASSERT_EQ(first.events.size(), 4u);
  ASSERT_TRUE(j->Withdraw(first.sequence).ok());
  EventJournal::Batch second;
  ASSERT_TRUE(j->NextBatch(1, 1 << 20, &second).ok());
  EXPECT_GT(second.sequence, first.sequence);
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_EQ(second.events[0].at("data").at("n"), "0");
  EXPECT_EQ(Pending(*j), 4u);
  std::uint64_t count = 0;
  ASSERT_TRUE(j->Quarantine(second.sequence, &count).ok());
  EXPECT_EQ(count, 1u);
  std::ifstream in(tmp_.path() + "/state/journal/quarantine-" + std::to_string(second.sequence) +
                   ".jsonl");
  const std::string quarantined(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(quarantined.find(R"("data":{"n":"0"})"), std::string::npos) << quarantined;
  // The three others and the count remain, after a reopen too.
  j.reset();
  j = OpenJournal();
  EXPECT_EQ(Pending(*j), 4u);
  EventJournal::Batch third;
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &third).ok());
  EXPECT_EQ(Types(third), (std::vector<std::string>{"e", "e", "e", "journal.quarantined"}));
  EXPECT_EQ(third.events[3].at("data").at("count"), "1");
  // Withdrawing or quarantining a report that is not the sealed one changes nothing.
  EXPECT_FALSE(j->Withdraw(third.sequence + 100).ok());
  EXPECT_EQ(Pending(*j), 4u);
}

// A segment holding acknowledged and unsent events is dropped: only the unsent ones count, so
// every unsent event is either delivered or counted, never both and never neither.
TEST_F(EventJournalTest, AcknowledgedEventsAreNotCountedAsDropped) {
  EventJournal::Options options;
  options.max_bytes = 2048;
  options.segment_bytes = 512;
  auto j = OpenJournal(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(j->Record(Ev("early", std::string(80, 'y'))).ok());
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &b).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(j->Record(Ev("mid", std::string(80, 'm'))).ok());
  ASSERT_TRUE(j->Ack(b.sequence).ok());
  EXPECT_EQ(Pending(*j), 2u);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(j->Record(Ev("late", std::string(80, 'z'))).ok());
  ASSERT_TRUE(j->NextBatch(1000, 1 << 20, &b).ok());
  std::uint64_t delivered = 0, dropped = 0;
  for (const auto& e : b.events) {
    EXPECT_NE(e.at("type"), "early");
    if (e.at("type") == "journal.dropped") {
      dropped += std::stoull(std::string(e.at("data").at("count").as_string()));
    } else {
      ++delivered;
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(delivered + dropped, 32u);
}

TEST_F(EventJournalTest, AnotherProcessAppendsWithoutReusingSequences) {
  auto j = OpenJournal();
  ASSERT_TRUE(j->Record(Ev("daemon")).ok());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::unique_ptr<EventJournal> other;
    bool ok = EventJournal::Open(*state_, &other).ok() && other->Record(Ev("cli")).ok() &&
              other->Record(Ev("cli")).ok();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(j->Record(Ev("daemon")).ok());
  EventJournal::Batch b;
  ASSERT_TRUE(j->NextBatch(100, 1 << 20, &b).ok());
  EXPECT_EQ(Types(b), (std::vector<std::string>{"daemon", "cli", "cli", "daemon"}));
  EXPECT_EQ(b.events_through, 4u);
}

TEST_F(EventJournalTest, AckOfAnUnknownReportIsRefused) {
  auto j = OpenJournal();
  ASSERT_TRUE(j->Record(Ev("a")).ok());
  EXPECT_FALSE(j->Ack(77).ok());
  EXPECT_EQ(Pending(*j), 1u);
}

// Records flush outside the journal's lock (a group commit): threads recording at once still get
// distinct sequences, every event is in the files when Record returns, and rotation to new segments
// meanwhile loses nothing.
TEST_F(EventJournalTest, ConcurrentRecordsAreAllDurableWithDistinctSequences) {
  auto j = OpenJournal({1 << 20, 2048});
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(j->Record(Ev("mfa.success", std::to_string(t * kEach + i))).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(Segments().size(), 1u);
  j.reset();
  auto reopened = OpenJournal({1 << 20, 2048});
  EventJournal::Batch b;
  ASSERT_TRUE(reopened->NextBatch(10000, 1 << 20, &b).ok());
  ASSERT_EQ(b.events.size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<std::string> seen;
  for (const auto& e : b.events) seen.emplace(e.at("data").at("n").as_string());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace mamori::agent
