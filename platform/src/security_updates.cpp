#include "security_updates.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fd.h"
#include "sysfs_io.h"

namespace mamori::platform {
namespace {

constexpr char kApt[] = "/usr/bin/apt-get";
constexpr std::size_t kMaxOutputBytes = 8 * 1024 * 1024;
// apt's resolver over the full Debian lists takes a few seconds of CPU, more on a busy machine.
constexpr auto kTimeout = std::chrono::seconds(300);

Status SysError(std::string_view what, int err) {
  return Status::Error(err, std::string(what) + ": " + std::strerror(err));
}

// Runs apt-get with a fixed argument list and a minimal environment; collects standard output.
Status RunAptSimulation(std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return SysError("pipe", errno);
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const char* argv[] = {kApt, "--simulate", "-o", "Debug::NoLocking=1", "dist-upgrade", nullptr};
  const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, kApt, &actions, nullptr, const_cast<char**>(argv),
                               const_cast<char**>(envp));
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return SysError(std::string("spawn ") + kApt, rc);
  write_end.Close();

  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  std::string what;
  char buffer[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    struct pollfd p = {read_end.get(), POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      what = ready == 0 ? "no answer within " + std::to_string(kTimeout.count()) + " s"
                        : "poll: " + std::string(std::strerror(errno));
      break;
    }
    ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output->size() + static_cast<std::size_t>(n) > kMaxOutputBytes) {
      what = "more than " + std::to_string(kMaxOutputBytes) + " bytes of output";
      break;
    }
    output->append(buffer, static_cast<std::size_t>(n));
  }
  if (!what.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!what.empty()) return Status::Error(-1, std::string(kApt) + " --simulate: " + what);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Error(-1, std::string(kApt) + " --simulate dist-upgrade failed (status " +
                                 std::to_string(status) + ")");
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SecurityPackagesFromSimulation(std::string_view text) {
  std::vector<std::string> names;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.starts_with("Inst ")) continue;
    line.remove_prefix(5);
    const std::string_view name = line.substr(0, line.find(' '));
    const std::size_t open = line.find('(');
    if (name.empty() || open == std::string_view::npos) continue;
    const std::string_view origin = line.substr(open, line.find(')', open) - open);
    if (origin.find("-security") != std::string_view::npos) names.emplace_back(name);
  }
  return names;
}

Status QuerySecurityUpdates(const std::string& root, SecurityUpdates* out) {
  *out = SecurityUpdates{};
  const std::string lists = root + "/var/lib/apt/lists";
  std::vector<std::string> names;
  Status s = sysfs::ListDirectory(lists, &names);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    if (name.find("-security_") == std::string::npos ||
        !(name.ends_with("_InRelease") || name.ends_with("_Release"))) {
      continue;
    }
    struct stat st;
    if (::stat((lists + "/" + name).c_str(), &st) != 0) {
      return SysError("stat /var/lib/apt/lists/" + name, errno);
    }
    out->source_configured = true;
    if (st.st_mtime > out->lists_time) out->lists_time = st.st_mtime;
  }
  if (!out->source_configured) return Status::Ok();
  std::string output;
  s = RunAptSimulation(&output);
  if (!s.ok()) return s;
  out->packages = SecurityPackagesFromSimulation(output);
  return Status::Ok();
}

}  // namespace mamori::platform
