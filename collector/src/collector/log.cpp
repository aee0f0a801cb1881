#include "collector/log.h"

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>

#include "mamori/policy/text.h"

namespace mamori::collector {

void Log(std::string_view level, std::string_view message, boost::json::object fields) {
  boost::json::object line;
  line["ts"] = policy::FormatTimestamp(
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  line["level"] = level;
  line["msg"] = message;
  for (auto& entry : fields) line[entry.key()] = std::move(entry.value());
  std::string text = boost::json::serialize(line);
  text += '\n';
  // One write per line, so lines from concurrent writers never interleave.
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace mamori::collector
