#include "identities.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>

#include "mamori/policy/text.h"

namespace mamori::bench {
namespace {

constexpr std::string_view kMagic = "mamori-load-identities 1 ";

std::runtime_error SystemError(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, decltype([](T* p) { Free(p); })>;

std::span<const unsigned char> Bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Empty when `text` is not base64.
std::string Unbase64(const std::string& text) {
  const auto bytes = policy::Base64Decode(text);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

void WriteAll(int fd, const std::string& text, const std::string& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(path);
    done += static_cast<std::size_t>(n);
  }
}

void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw SystemError(dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw SystemError(dir);
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

KeyAndCsr MakeKeyAndCsr() {
  Owned<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
  Owned<X509_REQ, X509_REQ_free> req(X509_REQ_new());
  if (!key || !req || !X509_REQ_set_pubkey(req.get(), key.get()) ||
      !X509_REQ_sign(req.get(), key.get(), EVP_sha256())) {
    throw std::runtime_error("cannot make a key and CSR");
  }
  KeyAndCsr out;
  unsigned char* der = nullptr;
  const int n = i2d_PrivateKey(key.get(), &der);
  if (n <= 0) throw std::runtime_error("cannot encode a private key");
  out.key_der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_clear_free(der, static_cast<std::size_t>(n));
  Owned<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509_REQ(bio.get(), req.get())) {
    throw std::runtime_error("cannot encode a CSR");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  out.csr_pem.assign(data, static_cast<std::size_t>(size));
  return out;
}

std::string CertificateDer(const std::string& pem, const std::string& what) {
  Owned<BIO, BIO_free_all> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509, X509_free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw std::runtime_error(what + ": not a PEM certificate");
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  if (n <= 0) throw std::runtime_error(what + ": cannot encode the certificate");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

IdentityStore::IdentityStore(const std::string& dir, const std::string& ca_pem)
    : dir_(dir), path_(dir + "/identities") {
  const std::string ca_der = CertificateDer(ca_pem, "collector CA");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (!EVP_Digest(ca_der.data(), ca_der.size(), digest, &digest_size, EVP_sha256(), nullptr)) {
    throw std::runtime_error("cannot hash the collector CA");
  }
  const std::string header =
      std::string(kMagic) + policy::HexEncode(std::span(digest, digest_size)) + "\n";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw SystemError(dir);

  const std::string text = ReadWhole(path_);
  if (text.empty()) {
    const std::string temporary = path_ + ".new";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw SystemError(temporary);
    WriteAll(fd, header, temporary);
    if (::fsync(fd) != 0 || ::close(fd) != 0) throw SystemError(temporary);
    if (::rename(temporary.c_str(), path_.c_str()) != 0) throw SystemError(path_);
    SyncDirectory(dir);
  } else {
    if (!text.starts_with(kMagic)) {
      throw std::runtime_error(path_ + ": not a mamori-load-identities file");
    }
    if (!text.starts_with(header)) {
      throw std::runtime_error(path_ +
                               ": enrolled with another collector CA; remove the directory "
                               "together with that collector's state");
    }
    std::size_t at = header.size();
    int line = 1;
    for (std::size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1) {
      ++line;
      std::istringstream fields(text.substr(at, end - at));
      std::string key, cert;
      Identity identity;
      fields >> identity.id >> key >> cert;
      identity.key_der = Unbase64(key);
      identity.cert_der = Unbase64(cert);
      if (identity.id.empty() || identity.key_der.empty() || identity.cert_der.empty()) {
        throw std::runtime_error(path_ + ": line " + std::to_string(line) +
                                 ": expected '<terminal id> <base64 key> <base64 certificate>'");
      }
      loaded_.push_back(std::move(identity));
    }
    // A line cut short by a crash during enrollment: that terminal enrolls again.
    if (at < text.size() && ::truncate(path_.c_str(), static_cast<off_t>(at)) != 0) {
      throw SystemError(path_);
    }
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw SystemError(path_);
}

IdentityStore::~IdentityStore() {
  if (fd_ >= 0) ::close(fd_);
}

void IdentityStore::Append(const Identity& identity) {
  const std::string line = identity.id + " " + policy::Base64Encode(Bytes(identity.key_der)) + " " +
                           policy::Base64Encode(Bytes(identity.cert_der)) + "\n";
  std::lock_guard lock(mutex_);
  WriteAll(fd_, line, path_);
}

void IdentityStore::Sync() {
  std::lock_guard lock(mutex_);
  if (::fdatasync(fd_) != 0) throw SystemError(path_);
}

std::vector<std::pair<std::string, std::uint64_t>> IdentityStore::LoadSequences() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  std::istringstream in(ReadWhole(dir_ + "/sequences"));
  std::string id;
  std::uint64_t sequence = 0;
  while (in >> id >> sequence) out.emplace_back(id, sequence);
  return out;
}

void IdentityStore::SaveSequences(
    const std::vector<std::pair<std::string, std::uint64_t>>& sequences) const {
  std::string text;
  for (const auto& [id, sequence] : sequences) text += id + " " + std::to_string(sequence) + "\n";
  const std::string path = dir_ + "/sequences", temporary = path + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw SystemError(temporary);
  WriteAll(fd, text, temporary);
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw SystemError(temporary);
  if (::rename(temporary.c_str(), path.c_str()) != 0) throw SystemError(path);
  SyncDirectory(dir_);
}

}  // namespace mamori::bench
