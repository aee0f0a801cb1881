#include "mamori/agent/mfa_protocol.h"

#include <string.h>

#include <boost/json.hpp>
#include <boost/json/null_resource.hpp>

namespace mamori::agent {
namespace json = boost::json;
namespace {

constexpr std::size_t kArenaBytes = 16384;

constexpr std::pair<MfaAnswer, std::string_view> kAnswers[] = {
    {MfaAnswer::kSuccess, "success"},   {MfaAnswer::kAuthError, "auth_err"},
    {MfaAnswer::kMaxTries, "maxtries"}, {MfaAnswer::kUserUnknown, "user_unknown"},
    {MfaAnswer::kIgnore, "ignore"},     {MfaAnswer::kPrompt, "prompt"},
};

// A parse whose every byte lives in one local arena, wiped afterwards: the code must not linger
// in freed heap memory.
class WipedArena {
 public:
  WipedArena() : resource_(buffer_, sizeof buffer_, json::get_null_resource()) {}
  ~WipedArena() { ::explicit_bzero(buffer_, sizeof buffer_); }
  json::storage_ptr storage() { return json::storage_ptr(&resource_); }

 private:
  alignas(16) unsigned char buffer_[kArenaBytes];
  json::monotonic_resource resource_;
};

}  // namespace

MfaRequest::~MfaRequest() { ::explicit_bzero(code.data(), code.size()); }

std::string_view ToString(MfaAnswer a) {
  for (const auto& [answer, text] : kAnswers) {
    if (answer == a) return text;
  }
  return "auth_err";
}

std::optional<MfaRequest> ParseMfaRequest(std::string_view line, std::string* error) {
  WipedArena arena;
  boost::system::error_code ec;
  json::value v;
  try {
    v = json::parse(line, ec, arena.storage());
  } catch (const std::bad_alloc&) {
    *error = "request larger than " + std::to_string(kArenaBytes) + " bytes of JSON";
    return std::nullopt;
  }
  if (ec) {
    *error = "request is not valid JSON: " + ec.message();
    return std::nullopt;
  }
  const json::object* o = v.if_object();
  if (!o) {
    *error = "request must be a JSON object";
    return std::nullopt;
  }
  MfaRequest r;
  auto field = [&](std::string_view key, std::string* out, bool required) {
    const json::value* f = o->if_contains(key);
    if (!f) {
      if (required) *error = "request field '" + std::string(key) + "' is missing";
      return !required;
    }
    const json::string* s = f->if_string();
    if (!s || s->size() > kMaxFieldBytes || s->find('\0') != json::string::npos) {
      *error = "request field '" + std::string(key) + "' must be a string of at most " +
               std::to_string(kMaxFieldBytes) + " bytes";
      return false;
    }
    out->assign(s->data(), s->size());
    return true;
  };
  std::string op;
  if (!field("op", &op, true)) return std::nullopt;
  if (op == "check") {
    r.op = MfaOp::kCheck;
  } else if (op == "verify") {
    r.op = MfaOp::kVerify;
  } else {
    *error = "request field 'op' must be \"check\" or \"verify\"";
    return std::nullopt;
  }
  if (!field("service", &r.service, true) || !field("user", &r.user, true) ||
      !field("code", &r.code, r.op == MfaOp::kVerify) || !field("tty", &r.tty, false) ||
      !field("rhost", &r.rhost, false)) {
    return std::nullopt;
  }
  for (const auto& kv : *o) {
    const std::string_view k = kv.key();
    if (k != "op" && k != "service" && k != "user" && k != "code" && k != "tty" && k != "rhost") {
      *error = "request field '" + std::string(k) + "' is not known";
      return std::nullopt;
    }
  }
  return r;
}

std::string SerializeMfaRequest(const MfaRequest& r) {
  WipedArena arena;
  json::object o(arena.storage());
  o["op"] = r.op == MfaOp::kCheck ? "check" : "verify";
  o["service"] = r.service;
  o["user"] = r.user;
  if (r.op == MfaOp::kVerify) o["code"] = r.code;
  o["tty"] = r.tty;
  o["rhost"] = r.rhost;
  return json::serialize(o);
}

std::string SerializeMfaAnswer(MfaAnswer answer) {
  return json::serialize(json::object{{"result", ToString(answer)}});
}

std::optional<MfaAnswer> ParseMfaAnswer(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* result = v.get_object().if_contains("result");
  if (!result || !result->is_string()) return std::nullopt;
  for (const auto& [answer, text] : kAnswers) {
    if (result->get_string() == text) return answer;
  }
  return std::nullopt;
}

}  // namespace mamori::agent
