#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "fd.h"
#include "mamori/platform/local_socket.h"
#include "mamori/platform/secure_dir.h"

namespace mamori::platform {
namespace {

using Clock = std::chrono::steady_clock;

Status Errno(int err, const std::string& what) {
  return Status::Error(err, what + ": " + std::strerror(err));
}

void SetTimeout(int fd, int option, std::chrono::milliseconds left) {
  if (left.count() < 1) left = std::chrono::milliseconds(1);
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(left.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((left.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

class LinuxLocalSocketServer : public LocalSocketServer {
 public:
  LinuxLocalSocketServer(int listen_fd, int stop_read, int stop_write)
      : listen_fd_(listen_fd), stop_read_(stop_read), stop_write_(stop_write) {}
  ~LinuxLocalSocketServer() override {
    ::close(listen_fd_);
    ::close(stop_read_);
    ::close(stop_write_);
  }

  void Serve(const Handler& handler, int threads, std::chrono::milliseconds io_timeout) override {
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&] { Work(handler, io_timeout); });
    }
    for (auto& t : workers) t.join();
  }

  void Stop() override {
    // The pipe stays readable once written, so every worker's wait wakes and sees it.
    const char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_write_, &byte, 1);
  }

 private:
  void Work(const Handler& handler, std::chrono::milliseconds io_timeout) {
    // With poll every idle worker would wake for each connection and all but one would find it
    // taken; EPOLLEXCLUSIVE wakes one (or a few). The stop pipe wakes them all.
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event listen_event = {};
    listen_event.events = EPOLLIN | EPOLLEXCLUSIVE;
    listen_event.data.fd = listen_fd_;
    struct epoll_event stop_event = {};
    stop_event.events = EPOLLIN;
    stop_event.data.fd = stop_read_;
    if (epoll.get() < 0 ||
        ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
        ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, stop_read_, &stop_event) != 0) {
      return;
    }
    for (;;) {
      struct epoll_event ready[2];
      const int n = ::epoll_wait(epoll.get(), ready, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      bool stop = false;
      for (int i = 0; i < n; ++i) stop = stop || ready[i].data.fd == stop_read_;
      if (stop) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        // Another worker took it (EAGAIN), the client left, or descriptors ran out for a moment.
        if (errno == EMFILE || errno == ENFILE)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      ServeConnection(fd, handler, io_timeout);
      ::close(fd);
    }
  }

  static void ServeConnection(int fd, const Handler& handler,
                              std::chrono::milliseconds io_timeout) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
    PeerCredentials peer{cred.pid, cred.uid, cred.gid};
    const auto deadline = Clock::now() + io_timeout;
    // The request carries a one-time code: the buffer is wiped however the connection ends.
    char buf[kMaxRequestBytes + 1];
    std::size_t used = 0;
    bool complete = false;
    while (used < sizeof buf) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      SetTimeout(fd, SO_RCVTIMEO, left);
      ssize_t n = ::recv(fd, buf + used, sizeof buf - used, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const char* nl =
          static_cast<const char*>(::memchr(buf + used, '\n', static_cast<std::size_t>(n)));
      used += static_cast<std::size_t>(n);
      if (nl) {
        used = static_cast<std::size_t>(nl - buf);
        complete = true;
        break;
      }
    }
    if (complete) {
      std::string reply = handler(std::string_view(buf, used), peer) + "\n";
      std::string_view out(reply);
      while (!out.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        SetTimeout(fd, SO_SNDTIMEO, left);
        ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    ::explicit_bzero(buf, sizeof buf);
  }

  int listen_fd_;
  int stop_read_;
  int stop_write_;
};

}  // namespace

Status LocalSocketServer::Listen(const std::string& dir, const std::string& name, mode_t mode,
                                 std::unique_ptr<LocalSocketServer>* out) {
  std::unique_ptr<SecureDir> secure;
  Status s = SecureDir::Open(dir, 0755, &secure);
  if (!s.ok()) return s;
  s = secure->Remove(name);
  if (!s.ok()) return s;
  const std::string path = secure->path() + "/" + name;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error(ENAMETOOLONG, path + ": socket path longer than " +
                                           std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno(errno, "socket for " + path);
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), mode) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return Errno(err, "listen on " + path);
  }
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(fd);
    return Errno(err, "pipe for " + path);
  }
  *out = std::make_unique<LinuxLocalSocketServer>(fd, stop[0], stop[1]);
  return Status::Ok();
}

Status LocalSocketServer::Adopt(int fd, std::unique_ptr<LocalSocketServer>* out) {
  int domain = 0, type = 0, listening = 0;
  socklen_t len = sizeof domain;
  const std::string what = "inherited socket " + std::to_string(fd);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return Errno(errno, what);
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return Errno(errno, what);
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    return Errno(errno, what);
  }
  if (domain != AF_UNIX || type != SOCK_STREAM || !listening) {
    return Status::Error(EINVAL, what + ": not a listening Unix stream socket");
  }
  // Workers race for each connection: the losers must get EAGAIN, not block in accept.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return Errno(errno, what);
  }
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) return Errno(errno, "pipe for " + what);
  *out = std::make_unique<LinuxLocalSocketServer>(fd, stop[0], stop[1]);
  return Status::Ok();
}

Status LocalSocketRequest(const std::string& path, std::string_view request,
                          std::chrono::milliseconds timeout, std::size_t max_reply,
                          std::string* reply) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error(ENAMETOOLONG, path + ": socket path too long");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(errno, "socket for " + path);
  const auto deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  };
  SetTimeout(fd, SO_SNDTIMEO, left());
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return Errno(err, "connect to " + path);
  }
  std::string line = std::string(request) + "\n";
  std::string_view out(line);
  while (!out.empty()) {
    SetTimeout(fd, SO_SNDTIMEO, left());
    ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || left().count() <= 0) {
      int err = n < 0 ? errno : ETIMEDOUT;
      ::close(fd);
      return Errno(err, "send to " + path);
    }
    out.remove_prefix(static_cast<std::size_t>(n));
  }
  reply->clear();
  char buf[4096];
  for (;;) {
    if (left().count() <= 0) {
      ::close(fd);
      return Errno(ETIMEDOUT, "reply from " + path);
    }
    SetTimeout(fd, SO_RCVTIMEO, left());
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno == EAGAIN ? ETIMEDOUT : errno;
      ::close(fd);
      return Errno(err, "reply from " + path);
    }
    reply->append(buf, static_cast<std::size_t>(n));
    const std::size_t nl = reply->find('\n');
    if (nl != std::string::npos) {
      reply->resize(nl);
      break;
    }
    if (n == 0 || reply->size() > max_reply) {
      ::close(fd);
      return Status::Error(EPROTO, path + (n == 0 ? ": the reply ended without a newline"
                                                  : ": the reply is longer than " +
                                                        std::to_string(max_reply) + " bytes"));
    }
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace mamori::platform
