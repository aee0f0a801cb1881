// The system log: journald with structured fields where it runs, standard error where it does not
// (a container, an initramfs, a developer's shell), so a message is never lost for want of a
// journal.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mamori::platform {

class SystemLog {
 public:
  // syslog(3) priorities.
  enum class Priority { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6 };
  using Fields = std::vector<std::pair<std::string, std::string>>;

  virtual ~SystemLog() = default;
  // `fields` are journal field names (upper case, digits and '_', not starting with '_') and
  // values; MESSAGE and PRIORITY are added from the arguments.
  virtual void Send(Priority priority, std::string_view message, const Fields& fields) = 0;
};

// journald through sd_journal_sendv. Without a journal socket the message alone goes to standard
// error, so callers make the message say what the fields say.
std::unique_ptr<SystemLog> NewJournaldSystemLog();

}  // namespace mamori::platform
