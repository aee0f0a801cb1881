#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "collector/log.h"
#include "collector/pg_conn.h"
#include "mamori/collector/postgres_store.h"

namespace mamori::collector {

struct PolicyWatch::Impl {
  Impl(std::string c, std::chrono::milliseconds r, std::function<void()> f)
      : conninfo(std::move(c)), recheck(r), on_change(std::move(f)) {
    if (pipe(stop_pipe) != 0) throw std::runtime_error("policy watch: pipe failed");
    thread = std::thread([this] { Run(); });
  }

  ~Impl() {
    stopping = true;
    const char byte = 0;
    [[maybe_unused]] const ssize_t n = write(stop_pipe[1], &byte, 1);
    thread.join();
    close(stop_pipe[0]);
    close(stop_pipe[1]);
  }

  // The newest stored version as text ("" for none): compared, never interpreted.
  static std::string LatestVersion(pg::Connection& db) {
    const pg::Result r = db.Exec("SELECT COALESCE(MAX(version)::text, '') FROM policies");
    return r.Text(0, 0);
  }

  // Returns after the connection fails or the watch stops. A notification or the periodic
  // timeout leads to the same check: has the latest version changed since the last look?
  void Watch(pg::Connection& db) {
    db.Exec((std::string("LISTEN ") + kPolicyChannel).c_str());
    // Read before waking the waiters for whatever was stored while nobody listened (before the
    // start, or while reconnecting): a policy committed after this read is notified and differs.
    std::string seen = LatestVersion(db);
    on_change();
    for (;;) {
      // A notification that came in with a query's answer is already in libpq's queue: the
      // socket would not wake poll() for it.
      bool queued = false;
      while (PGnotify* n = PQnotifies(db.handle())) {
        queued = true;
        PQfreemem(n);
      }
      if (!queued) {
        pollfd fds[2] = {{PQsocket(db.handle()), POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        const int ready = poll(fds, 2, static_cast<int>(recheck.count()));
        if (stopping) return;
        if (ready > 0 && !PQconsumeInput(db.handle())) {
          throw StoreError(db.description() +
                           ": notification connection lost: " + PQerrorMessage(db.handle()));
        }
        while (PGnotify* n = PQnotifies(db.handle())) PQfreemem(n);
      }
      std::string latest = LatestVersion(db);
      if (latest != seen) {
        seen = std::move(latest);
        on_change();
      }
    }
  }

  void Run() {
    while (!stopping) {
      try {
        pg::Connection db(conninfo);
        Watch(db);
      } catch (const std::exception& e) {
        Log("warning", "policy notifications interrupted", {{"error", e.what()}});
        // Waits before reconnecting; the version check after it catches what was missed.
        pollfd fd = {stop_pipe[0], POLLIN, 0};
        poll(&fd, 1, static_cast<int>(recheck.count()));
      }
    }
  }

  std::string conninfo;
  std::chrono::milliseconds recheck;
  std::function<void()> on_change;
  std::atomic<bool> stopping{false};
  int stop_pipe[2] = {-1, -1};
  std::thread thread;
};

PolicyWatch::PolicyWatch(std::string conninfo, std::chrono::milliseconds recheck,
                         std::function<void()> on_change)
    : impl_(std::make_unique<Impl>(std::move(conninfo), recheck, std::move(on_change))) {}

PolicyWatch::~PolicyWatch() = default;

}  // namespace mamori::collector
