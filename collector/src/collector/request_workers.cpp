#include "collector/request_workers.h"

#include <exception>
#include <utility>
#include <variant>

#include "collector/log.h"

namespace mamori::collector {
namespace {

HttpResponse InternalError(const std::string& target, const std::exception& e) {
  Log("error", "request failed", {{"target", target}, {"error", e.what()}});
  return ErrorResponse(500, "internal error; see the collector's log");
}

}  // namespace

RequestWorkers::RequestWorkers(Api& api, WorkerOptions options) : api_(api), options_(options) {
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { Work(); });
  writer_ = std::thread([this] { Write(); });
}

RequestWorkers::~RequestWorkers() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
  // The workers are gone, so no report is added any more: the writer commits what is left.
  {
    std::lock_guard lock(mutex_);
    writer_stopping_ = true;
  }
  writer_ready_.notify_all();
  writer_.join();
}

HttpResponse RequestWorkers::Busy() const {
  HttpResponse response = ErrorResponse(503, "the collector is busy; retry later");
  response.retry_after_seconds = options_.retry_after_seconds;
  return response;
}

bool RequestWorkers::Submit(bool agent, HttpRequest request, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= options_.max_queued) return false;
    jobs_.push_back({agent, std::move(request), std::move(done)});
  }
  work_ready_.notify_one();
  return true;
}

void RequestWorkers::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Serve(job);
  }
}

template <class Item>
bool RequestWorkers::Queue(std::vector<Pending<Item>>& queue, Item& item, Done& done) {
  {
    std::lock_guard lock(mutex_);
    if (queue.size() >= options_.max_pending) return false;
    queue.push_back({std::move(item), std::move(done)});
  }
  writer_ready_.notify_one();
  return true;
}

void RequestWorkers::Serve(Job& job) {
  HttpResponse response;
  try {
    if (!job.agent) {
      response = api_.HandleAdmin(job.request);
    } else if (Api::IsReport(job.request)) {
      auto prepared = api_.PrepareReport(job.request);
      if (auto* item = std::get_if<IngestItem>(&prepared)) {
        if (Queue(reports_, *item, job.done)) return;
        response = Busy();
      } else {
        response = std::get<HttpResponse>(std::move(prepared));
      }
    } else if (Api::IsEnrollment(job.request)) {
      auto prepared = api_.PrepareEnrollment(job.request);
      if (auto* item = std::get_if<PreparedEnrollment>(&prepared)) {
        if (Queue(enrollments_, *item, job.done)) return;
        response = Busy();
      } else {
        response = std::get<HttpResponse>(std::move(prepared));
      }
    } else {
      response = api_.HandleAgent(job.request);
    }
  } catch (const std::exception& e) {
    response = InternalError(job.request.target, e);
  }
  job.done(std::move(response));
}

// Called with `mutex_` held.
template <class Item>
std::vector<RequestWorkers::Pending<Item>> RequestWorkers::TakeBatch(
    std::vector<Pending<Item>>& queue) {
  std::vector<Pending<Item>> batch;
  if (queue.size() <= options_.max_batch) {
    batch.swap(queue);
  } else {
    const auto cut = queue.begin() + static_cast<std::ptrdiff_t>(options_.max_batch);
    batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(cut));
    queue.erase(queue.begin(), cut);
  }
  return batch;
}

void RequestWorkers::Write() {
  for (;;) {
    std::vector<PendingReport> batch;
    std::vector<PendingEnrollment> enrollments;
    {
      std::unique_lock lock(mutex_);
      writer_ready_.wait(
          lock, [this] { return writer_stopping_ || !reports_.empty() || !enrollments_.empty(); });
      if (reports_.empty() && enrollments_.empty()) return;
      batch = TakeBatch(reports_);
      enrollments = TakeBatch(enrollments_);
    }
    if (!enrollments.empty()) CommitEnrollments(enrollments);
    if (batch.empty()) continue;
    std::vector<IngestItem> items;
    items.reserve(batch.size());
    for (PendingReport& p : batch) items.push_back(std::move(p.item));
    std::vector<HttpResponse> responses;
    try {
      responses = api_.CommitReports(items);
    } catch (const std::exception& e) {
      responses.assign(batch.size(), InternalError("/v1/reports", e));
    }
    // Only now, after the commit, does any terminal hear that its report is stored.
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(responses[i]));
  }
}

void RequestWorkers::CommitEnrollments(std::vector<PendingEnrollment>& batch) {
  std::vector<PreparedEnrollment> items;
  items.reserve(batch.size());
  for (PendingEnrollment& p : batch) items.push_back(std::move(p.item));
  std::vector<HttpResponse> responses;
  try {
    responses = api_.CommitEnrollments(items);
  } catch (const std::exception& e) {
    responses.assign(batch.size(), InternalError("/v1/enroll", e));
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(responses[i]));
}

}  // namespace mamori::collector
