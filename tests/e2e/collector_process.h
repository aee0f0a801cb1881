// Runs the real mamori-collector binary for end-to-end tests: a temp directory with its config and
// database, the listeners on free loopback ports, and its structured log collected.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mamori::testing {

// Runs a program to completion; returns its exit status and stdout.
struct RunResult {
  int status = -1;
  std::string out;
};
RunResult RunProgram(const std::vector<std::string>& argv);

class CollectorProcess {
 public:
  // `config_json` is written to dir/collector.json; its `database` says where the data is.
  CollectorProcess(std::filesystem::path dir, std::string config_json);
  ~CollectorProcess();

  // Starts the server and waits until both listeners have logged their ports.
  void Start();
  void Kill9();
  void Stop();  // SIGTERM and wait

  std::string CreateApiToken(const std::string& role) const;
  std::string CaPem() const;
  std::string agent_url() const { return "https://127.0.0.1:" + std::to_string(agent_port_); }
  std::string admin_url() const { return "https://localhost:" + std::to_string(admin_port_); }
  std::string Log() const;

 private:
  std::vector<std::string> Command(std::vector<std::string> extra) const;

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int agent_port_ = 0;
  int admin_port_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
};

}  // namespace mamori::testing
