#include "collector/json_fields.h"

#include <algorithm>

namespace mamori::collector {

boost::json::object ParseObject(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  if (ec) throw BadRequest("body: not valid JSON: " + ec.message());
  if (!value.is_object()) throw BadRequest("body: expected a JSON object");
  return std::move(value.as_object());
}

Fields::Fields(const boost::json::object& object, std::string path,
               std::initializer_list<std::string_view> allowed)
    : object_(object), path_(std::move(path)) {
  for (const auto& entry : object_) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(entry.key())) == allowed.end()) {
      Fail(entry.key(), "unknown field");
    }
  }
}

const boost::json::value* Fields::Find(std::string_view key) const {
  const auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->value();
}

void Fields::Fail(std::string_view key, std::string_view message) const {
  throw BadRequest(PathOf(key) + ": " + std::string(message));
}

std::optional<std::string> Fields::OptStr(std::string_view key, std::size_t max_bytes,
                                          bool multiline) const {
  const boost::json::value* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) Fail(key, "expected a string");
  const auto& s = v->get_string();
  if (s.size() > max_bytes) Fail(key, "longer than " + std::to_string(max_bytes) + " bytes");
  for (unsigned char c : s) {
    if (multiline && (c == '\n' || c == '\r')) continue;
    if (c < 0x20 || c == 0x7f) Fail(key, "contains a control character");
  }
  return std::string(s);
}

std::string Fields::Str(std::string_view key, std::size_t max_bytes, bool multiline) const {
  auto s = OptStr(key, max_bytes, multiline);
  if (!s) Fail(key, "required");
  if (s->empty()) Fail(key, "must not be empty");
  return *s;
}

std::optional<std::uint64_t> Fields::OptUint(std::string_view key, std::uint64_t min,
                                             std::uint64_t max) const {
  const boost::json::value* v = Find(key);
  if (v == nullptr) return std::nullopt;
  std::uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    n = static_cast<std::uint64_t>(v->get_int64());
  } else {
    Fail(key, "expected a non-negative integer");
  }
  if (n < min || n > max) {
    Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

std::uint64_t Fields::Uint(std::string_view key, std::uint64_t min, std::uint64_t max) const {
  auto n = OptUint(key, min, max);
  if (!n) Fail(key, "required");
  return *n;
}

const boost::json::array* Fields::OptArray(std::string_view key, std::size_t max_items) const {
  const boost::json::value* v = Find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) Fail(key, "expected an array");
  if (v->get_array().size() > max_items) {
    Fail(key, "more than " + std::to_string(max_items) + " entries");
  }
  return &v->get_array();
}

const boost::json::array& Fields::Array(std::string_view key, std::size_t max_items) const {
  const auto* a = OptArray(key, max_items);
  if (a == nullptr) Fail(key, "required");
  return *a;
}

const boost::json::object* Fields::OptObject(std::string_view key) const {
  const boost::json::value* v = Find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) Fail(key, "expected an object");
  return &v->get_object();
}

const boost::json::object& Fields::Object(std::string_view key) const {
  const auto* o = OptObject(key);
  if (o == nullptr) Fail(key, "required");
  return *o;
}

}  // namespace mamori::collector
