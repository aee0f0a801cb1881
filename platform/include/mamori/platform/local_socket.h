// A Unix stream socket serving one request line per connection, with the caller's kernel-checked
// credentials (SO_PEERCRED) handed to the handler: the basis for "root may ask anything, a user
// only about itself".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mamori/platform/env.h"

namespace mamori::platform {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class LocalSocketServer {
 public:
  // Returns the reply line for one request line (both without the newline).
  using Handler = std::function<std::string(std::string_view request, const PeerCredentials&)>;
  static constexpr std::size_t kMaxRequestBytes = 4096;

  virtual ~LocalSocketServer() = default;

  // Binds `name` in directory `dir` and listens. The directory must pass SecureDir's checks (owned
  // by the effective user, not writable by others), so nobody else can swap the socket; a stale
  // socket left by an earlier run is replaced. The socket gets `mode`.
  static Status Listen(const std::string& dir, const std::string& name, mode_t mode,
                       std::unique_ptr<LocalSocketServer>* out);

  // Serves on a listening Unix stream socket this process was given (socket activation); takes
  // ownership of `fd`. Fails, closing nothing, when `fd` is not such a socket.
  static Status Adopt(int fd, std::unique_ptr<LocalSocketServer>* out);

  // Serves on `threads` threads until Stop(); each connection gets `io_timeout` to send its line
  // and read the reply. Returns when every thread has finished its connection.
  virtual void Serve(const Handler& handler, int threads, std::chrono::milliseconds io_timeout) = 0;
  // Makes Serve return; callable from any thread.
  virtual void Stop() = 0;
};

// The client side: connects to the socket at `path`, sends `request` and a newline, and reads the
// reply line (without its newline, at most `max_reply` bytes), all within `timeout`.
Status LocalSocketRequest(const std::string& path, std::string_view request,
                          std::chrono::milliseconds timeout, std::size_t max_reply,
                          std::string* reply);

}  // namespace mamori::platform
