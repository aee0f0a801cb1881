// Keeps database work off the HTTPS server's I/O thread. Requests run on a few worker threads;
// reports go on to one writer thread that commits every report waiting at that moment in one
// transaction (group commit), so a commit's fsync is shared by the whole batch, and answers each
// only after that commit. Both queues are bounded: a full one refuses with 503 and Retry-After.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "mamori/collector/api.h"

namespace mamori::collector {

struct WorkerOptions {
  int threads = 2;                  // parse, authenticate, and serve everything but commits
  std::size_t max_queued = 8192;    // requests waiting for a worker
  std::size_t max_batch = 1024;     // reports in one transaction
  std::size_t max_pending = 16384;  // reports waiting for the writer
  int retry_after_seconds = 2;      // told to a refused client
};

class RequestWorkers {
 public:
  // Called once per request, from a worker or the writer thread.
  using Done = std::function<void(HttpResponse)>;

  RequestWorkers(Api& api, WorkerOptions options);
  // Answers everything already accepted, then stops the threads.
  ~RequestWorkers();
  RequestWorkers(const RequestWorkers&) = delete;
  RequestWorkers& operator=(const RequestWorkers&) = delete;

  // Queues the request; false (and `done` never called) when the queue is full.
  bool Submit(bool agent, HttpRequest request, Done done);
  // The answer to a request refused for a full queue.
  HttpResponse Busy() const;

 private:
  struct Job {
    bool agent = false;
    HttpRequest request;
    Done done;
  };
  struct PendingReport {
    IngestItem item;
    Done done;
  };

  void Work();
  void Write();
  void Serve(Job& job);

  Api& api_;
  const WorkerOptions options_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable reports_ready_;
  std::deque<Job> jobs_;
  std::vector<PendingReport> reports_;
  bool stopping_ = false;
  bool writer_stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread writer_;
};

}  // namespace mamori::collector
