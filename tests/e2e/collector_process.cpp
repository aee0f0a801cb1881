#include "collector_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mamori::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // The collector must not outlive a test that crashed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null_fd = open("/dev/null", O_WRONLY);
    dup2(stdout_fd >= 0 ? stdout_fd : null_fd, STDOUT_FILENO);
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

RunResult RunProgram(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = Spawn(argv, pipe_fds[1], -1);
  close(pipe_fds[1]);
  RunResult result;
  result.out = ReadAll(pipe_fds[0]);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CollectorProcess::CollectorProcess(std::filesystem::path dir, std::string config_json)
    : dir_(std::move(dir)) {
  std::ofstream(dir_ / "collector.json") << config_json;
}

CollectorProcess::~CollectorProcess() { Stop(); }

std::vector<std::string> CollectorProcess::Command(std::vector<std::string> extra) const {
  std::vector<std::string> argv = {MAMORI_COLLECTOR_BIN, "--config",
                                   (dir_ / "collector.json").string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

void CollectorProcess::Start() {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  {
    std::lock_guard lock(mutex_);
    agent_port_ = admin_port_ = 0;
  }
  pid_ = Spawn(Command({"serve"}), -1, pipe_fds[1]);
  close(pipe_fds[1]);
  const int fd = pipe_fds[0];
  reader_ = std::thread([this, fd] {
    std::string pending;
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      pending.append(buffer, static_cast<std::size_t>(n));
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        const std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        std::lock_guard lock(mutex_);
        log_ += line + "\n";
        boost::system::error_code ec;
        const auto v = boost::json::parse(line, ec);
        if (!ec && v.is_object() && v.as_object().contains("listener") &&
            v.as_object().at("msg") == "listening") {
          const int port = static_cast<int>(v.as_object().at("port").to_number<int>());
          (v.as_object().at("listener") == "agent" ? agent_port_ : admin_port_) = port;
        }
        changed_.notify_all();
      }
    }
    close(fd);
  });
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::seconds(20),
                         [this] { return agent_port_ != 0 && admin_port_ != 0; })) {
    throw std::runtime_error("collector did not start; log:\n" + log_);
  }
}

void CollectorProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
}

void CollectorProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
}

std::string CollectorProcess::CreateApiToken(const std::string& role) const {
  RunResult r = RunProgram(Command({"create-api-token", "--role", role, "--label", "e2e"}));
  if (r.status != 0) throw std::runtime_error("create-api-token failed");
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

std::string CollectorProcess::CaPem() const {
  RunResult r = RunProgram(Command({"ca-cert"}));
  if (r.status != 0) throw std::runtime_error("ca-cert failed");
  return r.out;
}

std::string CollectorProcess::Log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

}  // namespace mamori::testing
