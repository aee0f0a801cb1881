#include <openssl/evp.h>

#include <boost/json.hpp>
#include <set>

#include "mamori/agent/credential.h"

namespace mamori::agent {
namespace json = boost::json;
namespace {

std::string B64(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::vector<unsigned char>> UnB64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// Reads fields of one JSON object and records the first problem with its path.
class Fields {
 public:
  Fields(const json::value& v, std::string path, std::string* error)
      : path_(std::move(path)), error_(error) {
    obj_ = v.if_object();
    if (!obj_) Fail(path_.empty() ? "/" : path_, "must be an object");
  }
  bool ok() const { return ok_; }

  const json::value* Get(std::string_view key) {
    seen_.insert(std::string(key));
    if (!obj_) return nullptr;
    const json::value* v = obj_->if_contains(key);
    if (!v) Fail(Path(key), "is missing");
    return v;
  }
  std::string String(std::string_view key) {
    const json::value* v = Get(key);
    if (!v) return {};
    if (!v->is_string()) return Fail(Path(key), "must be a string"), std::string();
    return std::string(v->get_string());
  }
  std::uint64_t Uint(std::string_view key, std::uint64_t max) {
    const json::value* v = Get(key);
    if (!v) return 0;
    std::uint64_t n = 0;
    if (v->is_uint64()) {
      n = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      n = static_cast<std::uint64_t>(v->get_int64());
    } else {
      Fail(Path(key), "must be a non-negative integer");
      return 0;
    }
    if (n > max) Fail(Path(key), "must be at most " + std::to_string(max));
    return n;
  }
  std::vector<unsigned char> Bytes(std::string_view key, std::size_t min, std::size_t max) {
    std::string text = String(key);
    if (!ok_) return {};
    auto bytes = UnB64(text);
    if (!bytes) return Fail(Path(key), "must be Base64"), std::vector<unsigned char>();
    if (bytes->size() < min || bytes->size() > max) {
      Fail(Path(key),
           "must decode to " + std::to_string(min) + ".." + std::to_string(max) + " bytes");
    }
    return *bytes;
  }
  // Unknown keys are errors: a misspelt field must not silently take its default.
  void NoOthers() {
    if (!obj_ || !ok_) return;
    for (const auto& kv : *obj_) {
      if (!seen_.count(std::string(kv.key()))) Fail(Path(kv.key()), "is not a known field");
    }
  }
  std::string Path(std::string_view key) const { return path_ + "/" + std::string(key); }
  void Fail(const std::string& path, const std::string& what) {
    if (ok_ && error_) *error_ = path + ": " + what;
    ok_ = false;
  }

 private:
  const json::object* obj_ = nullptr;
  std::string path_;
  std::string* error_;
  std::set<std::string> seen_;
  bool ok_ = true;
};

json::object TotpJson(const TotpParams& p) {
  return {{"algorithm", ToString(p.algorithm)}, {"digits", p.digits}, {"period", p.period}};
}

json::object RecoveryJson(const RecoveryHashes& r) {
  json::array hashes;
  for (const auto& h : r.hashes) hashes.emplace_back(B64(h));
  return {{"kdf", r.kdf},
          {"iterations", r.iterations},
          {"salt", B64(r.salt)},
          {"hashes", std::move(hashes)}};
}

bool ReadTotp(Fields& f, TotpParams* p) {
  const std::string alg = f.String("algorithm");
  if (!f.ok()) return false;
  auto a = ParseTotpAlgorithm(alg);
  if (!a) f.Fail(f.Path("algorithm"), "must be SHA1, SHA256 or SHA512");
  p->algorithm = a.value_or(TotpAlgorithm::kSha1);
  p->digits = static_cast<unsigned>(f.Uint("digits", 8));
  p->period = static_cast<unsigned>(f.Uint("period", 300));
  if (f.ok() && (p->digits < 6)) f.Fail(f.Path("digits"), "must be 6, 7 or 8");
  if (f.ok() && p->period == 0) f.Fail(f.Path("period"), "must be at least 1");
  return f.ok();
}

bool ReadRecovery(const json::value* v, const std::string& path, RecoveryHashes* r,
                  std::string* error) {
  if (!v) return false;
  Fields f(*v, path, error);
  r->kdf = f.String("kdf");
  if (f.ok() && r->kdf != "PBKDF2-HMAC-SHA256") {
    f.Fail(f.Path("kdf"), "must be PBKDF2-HMAC-SHA256");
  }
  r->iterations = static_cast<std::uint32_t>(f.Uint("iterations", 10000000));
  if (f.ok() && r->iterations < 1000) f.Fail(f.Path("iterations"), "must be at least 1000");
  r->salt = f.Bytes("salt", 16, 64);
  const json::value* hashes = f.Get("hashes");
  if (f.ok() && !hashes->is_array()) f.Fail(f.Path("hashes"), "must be an array");
  if (f.ok() && hashes->get_array().size() > kRecoveryCodeCount) {
    f.Fail(f.Path("hashes"),
           "must have at most " + std::to_string(kRecoveryCodeCount) + " entries");
  }
  if (f.ok()) {
    std::size_t i = 0;
    for (const auto& h : hashes->get_array()) {
      const std::string at = f.Path("hashes") + "/" + std::to_string(i++);
      const json::string* s = h.if_string();
      auto bytes = s ? UnB64(*s) : std::nullopt;
      // An empty string marks a used code.
      if (!bytes || (!bytes->empty() && bytes->size() != 32)) {
        f.Fail(at, "must be an empty string or the Base64 of 32 bytes");
        break;
      }
      r->hashes.push_back(std::move(*bytes));
    }
  }
  f.NoOthers();
  return f.ok();
}

std::optional<json::value> ParseJson(std::string_view text, std::string* error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    *error = "not valid JSON: " + ec.message();
    return std::nullopt;
  }
  return v;
}

}  // namespace

bool ValidUserName(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(user[0])) return false;
  for (char c : user) {
    if (!word(c) && c != '.' && c != '-' && c != '@') return false;
  }
  return true;
}

std::string SecretBinding(std::string_view user) {
  return std::string(kCredentialFormat) + "/" + std::to_string(kCredentialVersion) + "/" +
         std::string(user);
}

std::string SerializeCredential(const CredentialRecord& r) {
  json::object o{
      {"format", kCredentialFormat},
      {"version", kCredentialVersion},
      {"user", r.user},
      {"totp", TotpJson(r.totp)},
      {"secret",
       {{"cipher", "AES-256-GCM"},
        {"nonce", B64(r.secret.nonce)},
        {"ciphertext", B64(r.secret.ciphertext)},
        {"tag", B64(r.secret.tag)}}},
      {"enrolled_at", r.enrolled_at},
      {"last_step", r.last_step},
      {"failures", r.failures},
      {"locked_until", r.locked_until},
      {"recovery", RecoveryJson(r.recovery)},
  };
  return json::serialize(o) + "\n";
}

std::optional<CredentialRecord> ParseCredential(std::string_view text, std::string* error) {
  auto v = ParseJson(text, error);
  if (!v) return std::nullopt;
  Fields f(*v, "", error);
  CredentialRecord r;
  if (f.String("format") != kCredentialFormat && f.ok()) {
    f.Fail("/format", "must be \"" + std::string(kCredentialFormat) + "\"");
  }
  if (f.ok() && f.Uint("version", UINT64_MAX) != kCredentialVersion && f.ok()) {
    f.Fail("/version",
           "unsupported version (this agent reads " + std::to_string(kCredentialVersion) + ")");
  }
  r.user = f.String("user");
  if (f.ok() && !ValidUserName(r.user)) f.Fail("/user", "is not a valid user name");
  if (const json::value* t = f.Get("totp")) {
    Fields tf(*t, "/totp", error);
    if (tf.ok() && ReadTotp(tf, &r.totp)) tf.NoOthers();
    if (!tf.ok()) return std::nullopt;
  }
  if (const json::value* s = f.Get("secret")) {
    Fields sf(*s, "/secret", error);
    if (sf.String("cipher") != "AES-256-GCM" && sf.ok()) {
      sf.Fail("/secret/cipher", "must be AES-256-GCM");
    }
    r.secret.nonce = sf.Bytes("nonce", 12, 12);
    r.secret.ciphertext = sf.Bytes("ciphertext", kMinSecretBytes, kMaxSecretBytes);
    r.secret.tag = sf.Bytes("tag", 16, 16);
    sf.NoOthers();
    if (!sf.ok()) return std::nullopt;
  }
  r.enrolled_at = static_cast<std::int64_t>(f.Uint("enrolled_at", INT64_MAX));
  r.last_step = f.Uint("last_step", UINT64_MAX);
  r.failures = static_cast<std::uint32_t>(f.Uint("failures", UINT32_MAX));
  r.locked_until = static_cast<std::int64_t>(f.Uint("locked_until", INT64_MAX));
  if (f.ok() && !ReadRecovery(f.Get("recovery"), "/recovery", &r.recovery, error)) {
    return std::nullopt;
  }
  f.NoOthers();
  if (!f.ok()) return std::nullopt;
  return r;
}

std::optional<CredentialImport> ParseCredentialImport(std::string_view text, std::string* error) {
  auto v = ParseJson(text, error);
  if (!v) return std::nullopt;
  Fields f(*v, "", error);
  CredentialImport c;
  if (f.String("format") != kImportFormat && f.ok()) {
    f.Fail("/format", "must be \"" + std::string(kImportFormat) + "\"");
  }
  if (f.ok() && f.Uint("version", UINT64_MAX) != 1 && f.ok()) {
    f.Fail("/version", "unsupported version (this agent reads 1)");
  }
  c.user = f.String("user");
  if (f.ok() && !ValidUserName(c.user)) f.Fail("/user", "is not a valid user name");
  if (const json::value* t = f.Get("totp")) {
    Fields tf(*t, "/totp", error);
    if (tf.ok() && ReadTotp(tf, &c.totp)) tf.NoOthers();
    if (!tf.ok()) return std::nullopt;
  }
  std::string b32 = f.String("secret_base32");
  if (f.ok()) {
    auto secret = Base32Decode(b32);
    OPENSSL_cleanse(b32.data(), b32.size());
    if (!secret) {
      f.Fail("/secret_base32", "must be Base32 (RFC 4648)");
    } else if (secret->size() < kMinSecretBytes || secret->size() > kMaxSecretBytes) {
      f.Fail("/secret_base32", "must decode to 20..64 bytes (at least 160 bits)");
    } else {
      c.secret = std::move(*secret);
    }
  }
  c.enrolled_at = static_cast<std::int64_t>(f.Uint("enrolled_at", INT64_MAX));
  if (f.ok() && !ReadRecovery(f.Get("recovery"), "/recovery", &c.recovery, error)) {
    return std::nullopt;
  }
  f.NoOthers();
  if (!f.ok()) return std::nullopt;
  return c;
}

}  // namespace mamori::agent
