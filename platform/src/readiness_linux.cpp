#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "mamori/platform/readiness.h"

namespace mamori::platform {

Status StopSignal::Create(std::unique_ptr<StopSignal>* out) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Status::Error(errno, std::string("eventfd: ") + std::strerror(errno));
  out->reset(new StopSignal(fd));
  return Status::Ok();
}

StopSignal::~StopSignal() { ::close(fd_); }

void StopSignal::Fire() {
  // The counter stays non-zero (it is never read), so the signal stays raised.
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

Status StopSignal::WaitReadable(int fd, Wait* result) const {
  for (;;) {
    pollfd fds[] = {{fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Status::Error(errno, std::string("poll: ") + std::strerror(errno));
    }
    if (fds[0].revents != 0) {
      *result = Wait::kStopped;
    } else if (fds[1].revents & (POLLERR | POLLNVAL)) {
      return Status::Error(EIO, "descriptor " + std::to_string(fd) + " failed while waiting");
    } else {
      *result = Wait::kReadable;
    }
    return Status::Ok();
  }
}

}  // namespace mamori::platform
