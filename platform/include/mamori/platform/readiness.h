// Waiting for a descriptor to become readable, interruptible from another thread: how a service
// thread sleeps on its event socket (no timer, no wake-up while idle) and still stops promptly.
#pragma once

#include <memory>

#include "mamori/platform/env.h"

namespace mamori::platform {

class StopSignal {
 public:
  static Status Create(std::unique_ptr<StopSignal>* out);
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Wakes every current and later WaitReadable on this signal; callable from any thread.
  void Fire();

  enum class Wait { kReadable, kStopped };
  // Blocks until `fd` is readable or Fire() was called. A failing wait is an error.
  Status WaitReadable(int fd, Wait* result) const;

 private:
  explicit StopSignal(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace mamori::platform
