// Strict reading of JSON request bodies: unknown fields, wrong types and values out of range are
// refused with a BadRequest naming the JSON Pointer of the field.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mamori::collector {

class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `body` as one JSON object; anything else is a BadRequest.
boost::json::object ParseObject(std::string_view body);

class Fields {
 public:
  // Refuses any key of `object` not in `allowed`. `path` is the object's JSON Pointer.
  Fields(const boost::json::object& object, std::string path,
         std::initializer_list<std::string_view> allowed);

  // Strings hold no control characters, except line breaks where `multiline` (PEM text).
  std::string Str(std::string_view key, std::size_t max_bytes, bool multiline = false) const;
  std::optional<std::string> OptStr(std::string_view key, std::size_t max_bytes,
                                    bool multiline = false) const;
  // Integers from `min` to `max` inclusive.
  std::uint64_t Uint(std::string_view key, std::uint64_t min, std::uint64_t max) const;
  std::optional<std::uint64_t> OptUint(std::string_view key, std::uint64_t min,
                                       std::uint64_t max) const;
  const boost::json::array& Array(std::string_view key, std::size_t max_items) const;
  const boost::json::array* OptArray(std::string_view key, std::size_t max_items) const;
  const boost::json::object& Object(std::string_view key) const;
  const boost::json::object* OptObject(std::string_view key) const;

  std::string PathOf(std::string_view key) const { return path_ + "/" + std::string(key); }

 private:
  const boost::json::value* Find(std::string_view key) const;
  [[noreturn]] void Fail(std::string_view key, std::string_view message) const;

  const boost::json::object& object_;
  std::string path_;
};

}  // namespace mamori::collector
