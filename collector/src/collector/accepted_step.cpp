#include <boost/json.hpp>
#include <charconv>

#include "mamori/collector/store.h"

namespace mamori::collector {

std::optional<AcceptedStep> AcceptedStepOf(const Event& event) {
  if (event.type != "mfa.success") return std::nullopt;
  boost::system::error_code ec;
  const boost::json::value data = boost::json::parse(event.data, ec);
  if (ec || !data.is_object()) return std::nullopt;
  const auto* user = data.as_object().if_contains("user");
  const auto* step = data.as_object().if_contains("step");
  if (!user || !user->is_string() || user->get_string().empty() || !step) return std::nullopt;
  AcceptedStep out{std::string(user->get_string()), 0};
  // The agent's journal writes every field as a string.
  if (step->is_string()) {
    const std::string_view text = step->get_string();
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out.step);
    if (err != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  } else if (step->is_uint64()) {
    out.step = step->get_uint64();
  } else if (step->is_int64() && step->get_int64() >= 0) {
    out.step = static_cast<std::uint64_t>(step->get_int64());
  } else {
    return std::nullopt;
  }
  if (out.step == 0 || out.step > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return out;
}

std::string CodeReusedData(const AcceptedStep& accepted, const std::string& first_terminal,
                           const std::string& terminal) {
  boost::json::object o;
  o["user"] = accepted.user;
  o["step"] = std::to_string(accepted.step);
  o["first_terminal"] = first_terminal;
  o["terminal"] = terminal;
  return boost::json::serialize(o);
}

}  // namespace mamori::collector
