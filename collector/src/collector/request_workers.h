// Keeps database work off the HTTPS server's I/O threads. Requests run on a few worker threads;
// reports and enrollments go on to one writer thread that commits every one waiting at that moment
// in one transaction per kind (group commit), so a commit's fsync is shared by the whole batch, and
// answers each only after that commit. The queues are bounded: a full one refuses with 503 and
// Retry-After.
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
  std::size_t max_batch = 1024;     // reports (or enrollments) in one transaction
  std::size_t max_pending = 16384;  // reports (and, apart, enrollments) waiting for the writer
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
  template <class Item>
  struct Pending {
    Item item;
    Done done;
  };
  using PendingReport = Pending<IngestItem>;
  using PendingEnrollment = Pending<PreparedEnrollment>;

  void Work();
  void Write();
  void CommitEnrollments(std::vector<PendingEnrollment>& batch);
  void Serve(Job& job);
  // Queues a prepared item for the writer; false when its queue is full.
  template <class Item>
  bool Queue(std::vector<Pending<Item>>& queue, Item& item, Done& done);
  template <class Item>
  std::vector<Pending<Item>> TakeBatch(std::vector<Pending<Item>>& queue);

  Api& api_;
  const WorkerOptions options_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable writer_ready_;
  std::deque<Job> jobs_;
  std::vector<PendingReport> reports_;
  std::vector<PendingEnrollment> enrollments_;
  bool stopping_ = false;
  bool writer_stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread writer_;
};

}  // namespace mamori::collector
