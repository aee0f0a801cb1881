#include "json_reader.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

namespace mamori::policy::detail {
namespace json = boost::json;
namespace {

// A SAX handler that only tracks where it is, to name every duplicate key by its path.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::string> duplicates;  // paths of every duplicate key

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    Enter();
    frames_.push_back({true, 0, {}, {}});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) {
    Enter();
    frames_.push_back({false, 0, {}, {}});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    partial_key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    partial_key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    f.key = std::move(partial_key_);
    partial_key_.clear();
    if (!f.keys.insert(f.key).second) duplicates.push_back(Path());
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return Scalar(); }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return Scalar(); }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return Scalar(); }
  bool on_double(double, json::string_view, json::error_code&) { return Scalar(); }
  bool on_bool(bool, json::error_code&) { return Scalar(); }
  bool on_null(json::error_code&) { return Scalar(); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool is_object;
    std::size_t index;
    std::string key;
    std::set<std::string> keys;
  };
  // A new value inside an array takes the next index.
  void Enter() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
  }
  bool Scalar() {
    Enter();
    return true;
  }
  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_) {
      path = f.is_object ? JoinPath(path, f.key) : JoinPath(path, f.index - 1);
    }
    return path;
  }
  std::vector<Frame> frames_;
  std::string partial_key_;
};

std::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace

std::optional<json::value> ParseJsonStrict(std::string_view text,
                                           std::vector<ValidationError>& errors) {
  json::parse_options options;
  options.max_depth = 16;
  json::basic_parser<DuplicateKeyFinder> finder(options);
  json::error_code ec;
  finder.write_some(false, text.data(), text.size(), ec);
  if (ec) {
    errors.push_back({"", "not valid JSON: " + ec.message()});
    return std::nullopt;
  }
  // Reported, then validation goes on (on the last of each duplicate) so every error shows at once.
  for (const std::string& path : finder.handler().duplicates) {
    errors.push_back({path, "duplicate key"});
  }
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) {
    errors.push_back({"", "not valid JSON: " + ec.message()});
    return std::nullopt;
  }
  return value;
}

std::string JoinPath(const std::string& base, std::string_view key) {
  std::string out = base + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JoinPath(const std::string& base, std::size_t index) {
  return base + "/" + std::to_string(index);
}

std::string Describe(const json::value& v) {
  if (v.is_string() || v.is_number() || v.is_bool()) {
    std::string text = json::serialize(v);
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return text;
  }
  return std::string(KindName(v));
}

ObjectReader::ObjectReader(Errors& errors, const json::value& value, std::string path)
    : errors_(errors), path_(std::move(path)) {
  if (value.is_object()) {
    object_ = &value.get_object();
  } else {
    errors_.Add(path_, "expected an object, got " + Describe(value));
  }
}

const json::value* ObjectReader::Field(std::string_view name, bool required) {
  known_.push_back(name);
  if (object_ == nullptr) return nullptr;
  const json::value* v = object_->if_contains(json::string_view(name.data(), name.size()));
  if (v == nullptr && required) errors_.Add(JoinPath(path_, name), "required field is missing");
  return v;
}

void ObjectReader::Finish() {
  if (object_ == nullptr) return;
  for (const auto& entry : *object_) {
    const std::string_view key(entry.key().data(), entry.key().size());
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      errors_.Add(JoinPath(path_, key), "unknown field");
    }
  }
}

std::optional<std::string> ReadString(Errors& e, const json::value& v, const std::string& path,
                                      std::size_t max_length, bool allow_empty) {
  if (!v.is_string()) {
    e.Add(path, "expected a string, got " + Describe(v));
    return std::nullopt;
  }
  const json::string& s = v.get_string();
  if (s.empty() && !allow_empty) {
    e.Add(path, "must not be empty");
    return std::nullopt;
  }
  if (s.size() > max_length) {
    e.Add(path, "is " + std::to_string(s.size()) + " bytes long; the limit is " +
                    std::to_string(max_length));
    return std::nullopt;
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      e.Add(path, "must not contain control characters");
      return std::nullopt;
    }
  }
  return std::string(s.data(), s.size());
}

std::optional<std::uint64_t> ReadUnsigned(Errors& e, const json::value& v, const std::string& path,
                                          std::uint64_t min, std::uint64_t max) {
  std::optional<std::uint64_t> n;
  if (v.is_uint64()) n = v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) n = static_cast<std::uint64_t>(v.get_int64());
  if (!n) {
    e.Add(path, "expected an unsigned integer, got " + Describe(v));
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    e.Add(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + std::to_string(*n));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> ReadBool(Errors& e, const json::value& v, const std::string& path) {
  if (!v.is_bool()) {
    e.Add(path, "expected true or false, got " + Describe(v));
    return std::nullopt;
  }
  return v.get_bool();
}

std::optional<std::size_t> ReadEnum(Errors& e, const json::value& v, const std::string& path,
                                    std::initializer_list<std::string_view> names) {
  std::string expected;
  for (std::string_view n : names) {
    expected += expected.empty() ? "\"" : ", \"";
    expected += n;
    expected += "\"";
  }
  if (v.is_string()) {
    std::size_t i = 0;
    for (std::string_view n : names) {
      if (v.get_string() == json::string_view(n.data(), n.size())) return i;
      ++i;
    }
  }
  e.Add(path, "expected one of " + expected + ", got " + Describe(v));
  return std::nullopt;
}

const json::array* ReadArray(Errors& e, const json::value& v, const std::string& path,
                             std::size_t max_items) {
  if (!v.is_array()) {
    e.Add(path, "expected an array, got " + Describe(v));
    return nullptr;
  }
  if (v.get_array().size() > max_items) {
    e.Add(path, "has " + std::to_string(v.get_array().size()) + " entries; the limit is " +
                    std::to_string(max_items));
    return nullptr;
  }
  return &v.get_array();
}

}  // namespace mamori::policy::detail
