// `mamorictl admin cert issue|revoke|list`: client certificates of the admin/IT API. The key is
// made here and never leaves this machine; the collector's admin CA signs a CSR for it.
#include "mamorictl/admin_cert_command.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "mamorictl/admin_client.h"

namespace mamori::ctl::admin {
namespace {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Req = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A fresh P-256 key and a CSR signed with it; the collector chooses the certificate's subject.
KeyAndCsr NewKeyAndCsr(const std::string& name) {
  PKey key(EVP_EC_gen("P-256"));
  Req req(X509_REQ_new());
  if (!key || !req) throw std::runtime_error("cannot create a P-256 key");
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(name.data()),
                                 static_cast<int>(name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    throw std::runtime_error("cannot sign the certificate request");
  }
  Bio key_bio(BIO_new(BIO_s_mem()));
  Bio csr_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !csr_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) != 1) {
    throw std::runtime_error("cannot encode the key or the certificate request");
  }
  return {BioText(key_bio.get()), BioText(csr_bio.get())};
}

// Creates `dir` (0700) if needed and refuses files already there: an issued key never replaces
// another one.
int OpenOutputDir(const std::string& dir, const std::vector<std::string>& names) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw FileError(dir + ": cannot create: " + std::strerror(errno));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw FileError(dir + ": not a directory: " + std::strerror(errno));
  for (const std::string& name : names) {
    struct stat st;
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ::close(fd);
      throw FileError(dir + "/" + name + ": already exists; choose another --out");
    }
  }
  return fd;
}

void WriteNew(int dir_fd, const std::string& dir, const std::string& name, const std::string& text,
              mode_t mode) {
  const int fd =
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw FileError(dir + "/" + name + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw FileError(dir + "/" + name + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced) throw FileError(dir + "/" + name + ": cannot write");
}

int Issue(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  Common c;
  std::string role, name, dir;
  int days = 365;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("role", po::value(&role)->required(), "it-read or admin")(
      "name", po::value(&name)->required(), "who holds it (the certificate's common name)")(
      "out", po::value(&dir)->required(), "directory for cert.pem and key.pem (0600)")(
      "days", po::value(&days), "validity in days, 1 to 825 (default 365)");
  Parse(args, options, {});
  const Format format = ParseFormat(c.format);
  if (role != "admin" && role != "it-read") throw UsageError("--role must be admin or it-read");
  if (days < 1 || days > 825) throw UsageError("--days must be 1 to 825");
  const ClientOptions client = Connect(c, getenv);
  const int dir_fd = OpenOutputDir(dir, {"cert.pem", "key.pem"});
  struct CloseDir {
    int fd;
    ~CloseDir() { ::close(fd); }
  } close_dir{dir_fd};
  const KeyAndCsr made = NewKeyAndCsr(name);
  const json::object request{{"csr", made.csr_pem}, {"role", role}, {"name", name}, {"days", days}};
  std::string raw;
  const json::object r =
      Call(client, "POST", "/v1/admin/certs", json::serialize(request), &raw).as_object();
  const std::string id = Field(r, "id");
  try {
    WriteNew(dir_fd, dir, "key.pem", made.key_pem, 0600);
    WriteNew(dir_fd, dir, "cert.pem", Field(r, "certificate"), 0644);
    if (::fsync(dir_fd) != 0) throw FileError(dir + ": " + std::strerror(errno));
  } catch (const FileError& e) {
    throw FileError(std::string(e.what()) + " (certificate " + id +
                    " was issued; revoke it with mamorictl admin cert revoke " + id + ")");
  }
  Table table{{"CERTIFICATE", "NAME", "ROLE", "EXPIRES", "FINGERPRINT", "FILES"}, {}};
  table.rows.push_back({id, Field(r, "name"), Field(r, "role"), Field(r, "expires_at"),
                        Field(r, "fingerprint"), dir + "/cert.pem, " + dir + "/key.pem"});
  Emit(out, format, raw, table);
  return kExitOk;
}

int Revoke(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  Common c;
  std::string id;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  options.add_options()("id", po::value(&id)->required(), "certificate id (c-…)");
  po::positional_options_description positional;
  positional.add("id", 1);
  Parse(args, options, positional);
  const Format format = ParseFormat(c.format);
  std::string raw;
  Call(Connect(c, getenv), "POST", "/v1/admin/certs/" + PercentEncode(id) + "/revoke", "", &raw);
  Emit(out, format, raw, Table{{"CERTIFICATE", "REVOKED"}, {{id, "yes"}}});
  return kExitOk;
}

int List(const std::vector<std::string>& args, std::ostream& out, const GetEnv& getenv) {
  Common c;
  po::options_description options;
  AddCommon(options, c);
  AddFormat(options, c);
  Parse(args, options, {});
  const Format format = ParseFormat(c.format);
  std::string raw;
  const json::object r = Call(Connect(c, getenv), "GET", "/v1/admin/certs", "", &raw).as_object();
  Table table{{"CERTIFICATE", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED", "FINGERPRINT"}, {}};
  if (const auto* list = r.if_contains("certificates"); list && list->is_array()) {
    for (const auto& v : list->as_array()) {
      const auto& o = v.as_object();
      table.rows.push_back({Field(o, "id"), Field(o, "name"), Field(o, "role"),
                            Field(o, "created_at"), Field(o, "expires_at"), Field(o, "revoked"),
                            Field(o, "fingerprint")});
    }
  }
  Emit(out, format, raw, table);
  return kExitOk;
}

}  // namespace

int AdminCertCommand(const std::vector<std::string>& args, std::ostream& out,
                     const GetEnv& getenv) {
  if (args.empty() || (args[0] != "issue" && args[0] != "revoke" && args[0] != "list")) {
    throw UsageError("usage: mamorictl admin cert issue|revoke|list");
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "issue") return Issue(rest, out, getenv);
  if (args[0] == "revoke") return Revoke(rest, out, getenv);
  return List(rest, out, getenv);
}

}  // namespace mamori::ctl::admin
