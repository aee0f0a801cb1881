// Reads a Boost.JSON value while collecting every validation error with its JSON Pointer path.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/document.h"

namespace mamori::policy::detail {

// Parses text into a value. Duplicate object keys (which Boost.JSON would silently merge) are added
// to `errors` while the value is still returned, so its other errors can be reported too; callers
// must treat any error as a refusal. Input that is not exactly one JSON document returns nullopt.
std::optional<boost::json::value> ParseJsonStrict(std::string_view text,
                                                  std::vector<ValidationError>& errors);

std::string JoinPath(const std::string& base, std::string_view key);
std::string JoinPath(const std::string& base, std::size_t index);
// A short rendering of a value for error messages: "78x1" quoted, numbers as is, kinds by name.
std::string Describe(const boost::json::value& v);

class Errors {
 public:
  explicit Errors(std::vector<ValidationError>& out) : out_(out) {}
  void Add(std::string path, std::string message) {
    out_.push_back({std::move(path), std::move(message)});
  }
  std::size_t count() const { return out_.size(); }

 private:
  std::vector<ValidationError>& out_;
};

// Visits the fields of one object. Every field looked up is known; Finish() reports the others.
class ObjectReader {
 public:
  ObjectReader(Errors& errors, const boost::json::value& value, std::string path);
  bool valid() const { return object_ != nullptr; }
  const std::string& path() const { return path_; }
  // The field's value, or nullptr when absent (an error if required).
  const boost::json::value* Field(std::string_view name, bool required = false);
  void Finish();

 private:
  Errors& errors_;
  const boost::json::object* object_ = nullptr;
  std::string path_;
  std::vector<std::string_view> known_;
};

std::optional<std::string> ReadString(Errors& e, const boost::json::value& v,
                                      const std::string& path, std::size_t max_length,
                                      bool allow_empty = false);
std::optional<std::uint64_t> ReadUnsigned(Errors& e, const boost::json::value& v,
                                          const std::string& path, std::uint64_t min,
                                          std::uint64_t max);
std::optional<bool> ReadBool(Errors& e, const boost::json::value& v, const std::string& path);
// One of `names`; returns its index.
std::optional<std::size_t> ReadEnum(Errors& e, const boost::json::value& v, const std::string& path,
                                    std::initializer_list<std::string_view> names);
// An array of at most max_items; returns nullptr (and records the error) when not an array.
const boost::json::array* ReadArray(Errors& e, const boost::json::value& v, const std::string& path,
                                    std::size_t max_items);

}  // namespace mamori::policy::detail
