// A file descriptor owned by one scope, shared by the Linux implementations.
#pragma once

#include <unistd.h>

#include <cerrno>

namespace mamori::platform {

// Closes on scope exit; errors of close on read-only descriptors carry no information.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error: on some filesystems a failed write surfaces only here.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace mamori::platform
