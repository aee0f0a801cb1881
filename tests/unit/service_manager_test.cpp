#include "mamori/platform/service_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "mamori/platform/local_socket.h"
#include "temp_dir.h"

namespace mamori::platform {
namespace {

// A notification socket of the test's own, as systemd would give the service in NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  std::string Receive() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  std::string path_;
  int fd_;
};

TEST(ServiceManagerTest, ReadyStatusWatchdogAndStoppingReachTheNotifySocket) {
  testing::TempDir dir;
  NotifySocket notify(dir.path() + "/notify");
  auto manager = NewSystemdServiceManager();
  manager->NotifyReady("guarding 2 devices");
  EXPECT_EQ(notify.Receive(), "READY=1\nSTATUS=guarding 2 devices");
  manager->NotifyStatus("policy version 4");
  EXPECT_EQ(notify.Receive(), "STATUS=policy version 4");
  manager->NotifyWatchdog();
  EXPECT_EQ(notify.Receive(), "WATCHDOG=1");
  manager->NotifyStopping();
  EXPECT_EQ(notify.Receive(), "STOPPING=1");
}

TEST(ServiceManagerTest, WatchdogIntervalIsTheManagersForThisProcessOnly) {
  auto manager = NewSystemdServiceManager();
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(manager->WatchdogInterval(), std::chrono::microseconds(30000000));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(manager->WatchdogInterval(), std::nullopt);
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(manager->WatchdogInterval(), std::nullopt);
}

TEST(ServiceManagerTest, NoPassedSocketsOutsideTheManager) {
  ::unsetenv("LISTEN_FDS");
  EXPECT_TRUE(NewSystemdServiceManager()->TakeListenFds().empty());
}

TEST(LocalSocketAdoptTest, ServesOnAnAdoptedListeningSocket) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/agent.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  std::unique_ptr<LocalSocketServer> server;
  ASSERT_TRUE(LocalSocketServer::Adopt(fd, &server).ok());
  std::thread serving([&] {
    server->Serve(
        [](std::string_view line, const PeerCredentials& peer) {
          return std::string(line) + " from uid " + std::to_string(peer.uid);
        },
        2, std::chrono::seconds(2));
  });
  std::string reply;
  Status s = LocalSocketRequest(path, "hello", std::chrono::seconds(2), 4096, &reply);
  server->Stop();
  serving.join();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(reply, "hello from uid " + std::to_string(::getuid()));
}

TEST(LocalSocketAdoptTest, RefusesWhatIsNotAListeningStreamSocket) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  std::unique_ptr<LocalSocketServer> server;
  Status s = LocalSocketServer::Adopt(pair[0], &server);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "inherited socket " + std::to_string(pair[0]) + ": not a listening Unix stream socket");
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace mamori::platform
