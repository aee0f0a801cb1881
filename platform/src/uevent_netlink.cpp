#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mamori/platform/uevent.h"

namespace mamori::platform {
namespace {

constexpr unsigned kKernelGroup = 1;
// Room for bursts of events while the guard is busy enumerating.
constexpr int kReceiveBuffer = 8 * 1024 * 1024;

Status Errno(std::string_view what) {
  const int err = errno;
  return Status::Error(err, "uevent socket: " + std::string(what) + ": " + std::strerror(err) +
                                " (errno " + std::to_string(err) + ")");
}

}  // namespace

Status NetlinkUeventSource::Open(std::unique_ptr<NetlinkUeventSource>* out) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return Errno("socket");
  std::unique_ptr<NetlinkUeventSource> source(new NetlinkUeventSource(fd));
  const int one = 1;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the ordinary limit applies.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    return Errno("SO_RCVBUF");
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return Errno("SO_PASSCRED");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = kKernelGroup;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return Errno("bind");
  *out = std::move(source);
  return Status::Ok();
}

NetlinkUeventSource::~NetlinkUeventSource() { ::close(fd_); }

UeventSource::Result NetlinkUeventSource::Next(Uevent* event, std::string* error) {
  unsigned char buffer[kMaxUeventBytes + 1];
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(ucred))];
  sockaddr_nl sender{};
  iovec iov{buffer, sizeof buffer};
  msghdr message{};
  message.msg_name = &sender;
  message.msg_namelen = sizeof sender;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd_, &message, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Result::kNone;
    if (errno == ENOBUFS) return Result::kOverflow;
    *error = Errno("recvmsg").message();
    return Result::kRejected;
  }
  if (message.msg_flags & MSG_TRUNC || static_cast<std::size_t>(n) > kMaxUeventBytes) {
    *error = "uevent datagram larger than " + std::to_string(kMaxUeventBytes) + " bytes";
    return Result::kRejected;
  }
  const cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  if (cmsg == nullptr || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_CREDENTIALS) {
    *error = "uevent datagram without sender credentials";
    return Result::kRejected;
  }
  ucred credentials;
  std::memcpy(&credentials, CMSG_DATA(cmsg), sizeof credentials);
  if (sender.nl_pid != 0 || credentials.uid != 0) {
    *error = "uevent datagram not from the kernel (port " + std::to_string(sender.nl_pid) +
             ", uid " + std::to_string(credentials.uid) + ")";
    return Result::kRejected;
  }
  UeventParseResult parsed = ParseUevent(std::span<const unsigned char>(buffer, n));
  if (!parsed.event) {
    *error = "malformed uevent: " + parsed.error;
    return Result::kRejected;
  }
  *event = std::move(*parsed.event);
  return Result::kEvent;
}

}  // namespace mamori::platform
