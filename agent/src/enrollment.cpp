#include "mamori/agent/enrollment.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <cerrno>
#include <memory>

#include "mamori/collector/client.h"

namespace mamori::agent {
namespace {

using platform::Status;

constexpr std::size_t kMaxEnrollmentBytes = 64 * 1024;
constexpr std::size_t kMaxFactBytes = 4096;

std::string Trim(std::string s) {
  const auto not_space = [](char c) { return c != ' ' && c != '\n' && c != '\r' && c != '\t'; };
  while (!s.empty() && !not_space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && !not_space(s[start])) ++start;
  return s.substr(start);
}

// PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" -> Debian GNU/Linux 12 (bookworm)
std::string PrettyName(const std::string& os_release) {
  std::size_t at = 0;
  while (at < os_release.size()) {
    std::size_t end = os_release.find('\n', at);
    if (end == std::string::npos) end = os_release.size();
    std::string_view line(os_release.data() + at, end - at);
    if (line.starts_with("PRETTY_NAME=")) {
      std::string value(line.substr(12));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
    at = end + 1;
  }
  return "";
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// A fresh EC P-256 key and a CSR signed by it; the collector's CA chooses the subject.
Status NewKeyAndCsr(const std::string& hostname, std::string* key_pem, std::string* csr_pem) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
  if (!key || !req) return Status::Error(-1, "cannot generate an EC P-256 key");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  const std::string cn = hostname.substr(0, 64);
  if (X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return Status::Error(-1, "cannot build the certificate signing request");
  }
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
  std::unique_ptr<BIO, BioFree> req_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !req_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509_REQ(req_bio.get(), req.get()) != 1) {
    return Status::Error(-1, "cannot encode the key and the certificate signing request");
  }
  *key_pem = BioText(key_bio.get());
  *csr_pem = BioText(req_bio.get());
  return Status::Ok();
}

// Reads the string member `name` of `o`; an absent, empty or non-string member is an error naming
// it.
bool StringField(const boost::json::object& o, std::string_view name, std::string* out,
                 std::string* error) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_string() || v->get_string().empty()) {
    *error = "/" + std::string(name) + ": missing or not a non-empty string";
    return false;
  }
  *out = std::string(v->get_string());
  return true;
}

std::string ReadFact(platform::Env& env, const std::string& path) {
  std::string text;
  return env.ReadFile(path, kMaxFactBytes, &text).ok() ? Trim(text) : std::string();
}

}  // namespace

Status ReadHostFacts(platform::Env& env, HostFacts* out) {
  HostFacts f;
  Status s = env.ReadFile("/etc/machine-id", kMaxFactBytes, &f.machine_id);
  if (!s.ok()) return Status::Error(s.err(), "machine-id: " + s.message());
  f.machine_id = Trim(f.machine_id);
  if (f.machine_id.empty()) return Status::Error(-1, "/etc/machine-id: empty");
  f.hostname = ReadFact(env, "/proc/sys/kernel/hostname");
  if (f.hostname.empty())
    return Status::Error(-1, "/proc/sys/kernel/hostname: unreadable or empty");
  // The real path: /sys/class/dmi/id is a link, and the Env follows none.
  f.serial = ReadFact(env, "/sys/devices/virtual/dmi/id/product_serial");
  // /etc/os-release is usually a link to /usr/lib/os-release.
  std::string os_release;
  if (!env.ReadFile("/etc/os-release", kMaxFactBytes, &os_release).ok()) {
    os_release.clear();
    env.ReadFile("/usr/lib/os-release", kMaxFactBytes, &os_release);
  }
  f.os = PrettyName(os_release);
  *out = std::move(f);
  return Status::Ok();
}

Status LoadEnrollment(platform::SecureDir& state_dir, std::optional<Enrollment>* out) {
  out->reset();
  std::string text;
  Status s = state_dir.Read(kEnrollmentFile, kMaxEnrollmentBytes, &text);
  if (!s.ok()) return s.err() == ENOENT ? Status::Ok() : s;
  const std::string where = state_dir.path() + "/" + kEnrollmentFile;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Error(-1, where + ": not a JSON object");
  const auto& o = v.get_object();
  Enrollment e;
  std::string error;
  if (!StringField(o, "url", &e.url, &error) || !StringField(o, "ca", &e.ca_pem, &error) ||
      !StringField(o, "certificate", &e.cert_pem, &error) ||
      !StringField(o, "key", &e.key_pem, &error) ||
      !StringField(o, "terminal_id", &e.terminal_id, &error)) {
    return Status::Error(-1, where + ": " + error);
  }
  if (const auto* g = o.if_contains("group"); g && g->is_string()) e.group = g->get_string();
  *out = std::move(e);
  return Status::Ok();
}

Status SaveEnrollment(platform::SecureDir& state_dir, const Enrollment& e, bool replace) {
  const std::string text =
      boost::json::serialize(boost::json::object{{"url", e.url},
                                                 {"terminal_id", e.terminal_id},
                                                 {"group", e.group},
                                                 {"ca", e.ca_pem},
                                                 {"certificate", e.cert_pem},
                                                 {"key", e.key_pem}});
  Status s = replace ? state_dir.WriteAtomic(kEnrollmentFile, text, 0600)
                     : state_dir.CreateAtomic(kEnrollmentFile, text, 0600);
  if (!s.ok() && s.err() == EEXIST) {
    return Status::Error(EEXIST, state_dir.path() + "/" + kEnrollmentFile +
                                     ": this terminal is already enrolled (use --force to enroll "
                                     "again)");
  }
  return s;
}

Status EnrollWithCollector(const std::string& url, const std::string& ca_pem,
                           const std::string& token, const HostFacts& facts, Enrollment* out) {
  std::string key_pem, csr_pem;
  Status s = NewKeyAndCsr(facts.hostname, &key_pem, &csr_pem);
  if (!s.ok()) return s;
  boost::json::object f{{"machine_id", facts.machine_id}, {"hostname", facts.hostname}};
  if (!facts.serial.empty()) f["serial"] = facts.serial;
  if (!facts.os.empty()) f["os"] = facts.os;
  const std::string body = boost::json::serialize(
      boost::json::object{{"token", token}, {"csr", csr_pem}, {"facts", std::move(f)}});
  collector::ClientOptions options;
  options.url = url;
  options.ca_pem = ca_pem;
  collector::ClientResponse response;
  try {
    response = collector::HttpsRequest(options, "POST", "/v1/enroll", body);
  } catch (const collector::ClientError& e) {
    return Status::Error(-1, std::string("cannot reach the collector: ") + e.what());
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response.body, ec);
  if (response.status != 201) {
    std::string reason = response.body;
    if (!ec && v.is_object()) {
      if (const auto* m = v.get_object().if_contains("error"); m && m->is_string()) {
        reason = std::string(m->get_string());
      }
    }
    return Status::Error(-1, url + "/v1/enroll refused the enrollment (HTTP " +
                                 std::to_string(response.status) + "): " + reason);
  }
  if (ec || !v.is_object()) return Status::Error(-1, url + "/v1/enroll: answer is not JSON");
  Enrollment e;
  std::string error;
  const auto& o = v.get_object();
  if (!StringField(o, "terminal_id", &e.terminal_id, &error) ||
      !StringField(o, "certificate", &e.cert_pem, &error)) {
    return Status::Error(-1, url + "/v1/enroll answer: " + error);
  }
  if (const auto* g = o.if_contains("group"); g && g->is_string()) e.group = g->get_string();
  e.url = url;
  e.ca_pem = ca_pem;
  e.key_pem = std::move(key_pem);
  *out = std::move(e);
  return Status::Ok();
}

}  // namespace mamori::agent
