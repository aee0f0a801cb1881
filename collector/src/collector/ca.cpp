#include "mamori/collector/ca.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include "mamori/collector/tokens.h"
#include "mamori/policy/text.h"

namespace mamori::collector {
namespace {

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Req = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;

constexpr std::size_t kMaxCsrBytes = 16 * 1024;
constexpr const char* kCaSetting = "ca.pem";
constexpr const char* kAdminCaSetting = "admin-ca.pem";
constexpr int kCaDays = 3650;
constexpr int kServerDays = 825;
// Certificates start a little in the past so a terminal whose clock lags slightly accepts them.
constexpr UnixTime kBackdateSeconds = 300;

[[noreturn]] void Fail(const std::string& what) {
  const unsigned long code = ERR_get_error();
  std::string message = what;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

Bio MemoryBio(std::string_view data) {
  Bio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) Fail("BIO_new_mem_buf");
  return bio;
}

std::string ReadBio(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    Fail("PEM_write_bio_PrivateKey");
  }
  return ReadBio(bio.get());
}

std::string CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) Fail("PEM_write_bio_X509");
  return ReadBio(bio.get());
}

std::string Sha256Hex(const unsigned char* data, int size) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(data, static_cast<std::size_t>(size), digest);
  return policy::HexEncode(digest);
}

template <class T, int (*I2d)(const T*, unsigned char**)>
std::string DerSha256(const T* object) {
  unsigned char* der = nullptr;
  const int size = I2d(object, &der);
  if (size <= 0) Fail("DER encoding");
  std::string hex = Sha256Hex(der, size);
  OPENSSL_free(der);
  return hex;
}

PKey NewP256Key() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) Fail("EVP_EC_gen");
  return key;
}

void AddEntry(X509_NAME* name, const char* field, std::string_view value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    Fail(std::string("subject field ") + field);
  }
}

// A certificate with a random 127-bit serial and the validity window; public key, subject and
// issuer are set by the caller.
Cert NewCert(UnixTime now, int days) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) Fail("X509_new");
  Bn serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    Fail("certificate serial");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), now - kBackdateSeconds) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), now + std::int64_t{days} * 86400)) {
    Fail("certificate validity");
  }
  return cert;
}

Cert NewCert(EVP_PKEY* public_key, UnixTime now, int days) {
  Cert cert = NewCert(now, days);
  if (X509_set_pubkey(cert.get(), public_key) != 1) Fail("X509_set_pubkey");
  return cert;
}

// Puts the request's SubjectPublicKeyInfo into the certificate as it was decoded. X509_set_pubkey
// would encode the key again through OpenSSL's encoder and decode the result, which costs more
// than verifying and signing together.
void CopyPublicKey(X509* cert, X509_PUBKEY* from) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* key = nullptr;
  int key_length = 0;
  X509_ALGOR* algor = nullptr;
  if (X509_PUBKEY_get0_param(&algorithm, &key, &key_length, &algor, from) != 1 || key == nullptr) {
    Fail("csr public key");
  }
  const ASN1_OBJECT* parameter_object = nullptr;
  int parameter_type = V_ASN1_UNDEF;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&parameter_object, &parameter_type, &parameter, algor);
  // Ed25519 has no parameters, a P-256 key the curve's OID (the only keys accepted).
  void* parameter_copy = nullptr;
  if (parameter_type == V_ASN1_OBJECT) {
    parameter_copy = OBJ_dup(static_cast<const ASN1_OBJECT*>(parameter));
    if (parameter_copy == nullptr) Fail("OBJ_dup");
  } else if (parameter_type != V_ASN1_UNDEF) {
    Fail("csr public key parameters");
  }
  auto* key_copy =
      static_cast<unsigned char*>(OPENSSL_memdup(key, static_cast<std::size_t>(key_length)));
  ASN1_OBJECT* algorithm_copy = OBJ_dup(algorithm);
  if (key_copy == nullptr || algorithm_copy == nullptr ||
      X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), algorithm_copy, parameter_type,
                             parameter_copy, key_copy, key_length) != 1) {
    // On failure X509_PUBKEY_set0_param took none of them.
    OPENSSL_free(key_copy);
    ASN1_OBJECT_free(algorithm_copy);
    ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(parameter_copy));
    Fail("X509_PUBKEY_set0_param");
  }
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) Fail("extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) Fail("X509_add_ext");
}

bool IsIpAddress(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

std::string AcceptableKeyError(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return {};
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1 &&
        std::string_view(group) == "prime256v1") {
      return {};
    }
    return std::string("csr: EC key on curve ") + group + ", expected P-256";
  }
  return "csr: key type must be EC P-256 or Ed25519";
}

}  // namespace

struct CertificateAuthority::Impl {
  PKey key;
  Cert cert;
  std::string cert_pem;
  bool admin = false;  // signs admin client certificates only

  // Loads the CA stored under `setting`, creating it first when there is none.
  static std::unique_ptr<Impl> LoadOrCreate(Store& store, UnixTime now, const char* setting,
                                            const std::string& common_name) {
    std::optional<std::string> stored = store.Setting(setting);
    if (!stored) {
      PKey key = NewP256Key();
      Cert cert = NewCert(key.get(), now, kCaDays);
      X509_NAME* name = X509_get_subject_name(cert.get());
      AddEntry(name, "O", "Mamori");
      AddEntry(name, "CN", common_name + " " + RandomHex(4));
      if (X509_set_issuer_name(cert.get(), name) != 1) Fail("X509_set_issuer_name");
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
      if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) Fail("X509_sign (CA)");
      // Another collector process may have created one meanwhile: whatever was stored first wins.
      stored = store.PutSettingIfAbsent(setting, KeyPem(key.get()) + CertPem(cert.get()));
    }
    auto impl = std::make_unique<Impl>();
    Bio bio = MemoryBio(*stored);
    impl->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    impl->cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!impl->key || !impl->cert) Fail(std::string("stored ") + setting + " is unreadable");
    impl->cert_pem = CertPem(impl->cert.get());
    return impl;
  }

  // Checks a CSR and issues a client certificate with subject O=Mamori, OU=`ou`, CN=`cn`.
  std::variant<IssuedCertificate, std::string> SignClientCsr(std::string_view csr_pem,
                                                             std::string_view ou,
                                                             const std::string& cn, UnixTime now,
                                                             int days) const {
    if (csr_pem.size() > kMaxCsrBytes) return std::string("csr: larger than 16 KiB");
    Bio bio = MemoryBio(csr_pem);
    Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) {
      ERR_clear_error();
      return std::string("csr: not a PEM certificate signing request");
    }
    EVP_PKEY* public_key = X509_REQ_get0_pubkey(req.get());
    if (public_key == nullptr) {
      ERR_clear_error();
      return std::string("csr: no public key");
    }
    if (std::string error = AcceptableKeyError(public_key); !error.empty()) return error;
    if (X509_REQ_verify(req.get(), public_key) != 1) {
      ERR_clear_error();
      return std::string("csr: its signature does not verify");
    }
    X509_PUBKEY* request_key = X509_REQ_get_X509_PUBKEY(req.get());
    Cert client = NewCert(now, days);
    CopyPublicKey(client.get(), request_key);
    X509_NAME* name = X509_get_subject_name(client.get());
    AddEntry(name, "O", "Mamori");
    AddEntry(name, "OU", ou);
    AddEntry(name, "CN", cn);
    if (X509_set_issuer_name(client.get(), X509_get_subject_name(cert.get())) != 1) {
      Fail("X509_set_issuer_name");
    }
    AddExtension(client.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(client.get(), cert.get(), NID_key_usage, "critical,digitalSignature");
    AddExtension(client.get(), cert.get(), NID_ext_key_usage, "clientAuth");
    AddExtension(client.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
    if (X509_sign(client.get(), key.get(), EVP_sha256()) <= 0) Fail("X509_sign (client)");

    IssuedCertificate issued;
    issued.cert_pem = CertPem(client.get());
    issued.cert_fingerprint = DerSha256<X509, i2d_X509>(client.get());
    issued.key_fingerprint = DerSha256<X509_PUBKEY, i2d_X509_PUBKEY>(request_key);
    return issued;
  }
};

std::string AdminCertOu(Role role) { return "mamori-role-" + std::string(ToString(role)); }

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

const std::string& CertificateAuthority::cert_pem() const { return impl_->cert_pem; }

CertificateAuthority CertificateAuthority::LoadOrCreate(Store& store, UnixTime now) {
  return CertificateAuthority(Impl::LoadOrCreate(store, now, kCaSetting, "Mamori Collector CA"));
}

CertificateAuthority CertificateAuthority::LoadOrCreateAdmin(Store& store, UnixTime now) {
  auto impl = Impl::LoadOrCreate(store, now, kAdminCaSetting, "Mamori Admin CA");
  impl->admin = true;
  return CertificateAuthority(std::move(impl));
}

std::variant<IssuedCertificate, std::string> CertificateAuthority::SignTerminalCsr(
    std::string_view csr_pem, const std::string& terminal_id, UnixTime now, int days) const {
  if (impl_->admin) throw std::logic_error("the admin CA signs no terminal certificate");
  return impl_->SignClientCsr(csr_pem, kTerminalCertOu, terminal_id, now, days);
}

std::variant<IssuedCertificate, std::string> CertificateAuthority::SignAdminCsr(
    std::string_view csr_pem, const std::string& name, Role role, UnixTime now, int days) const {
  if (!impl_->admin) throw std::logic_error("the terminal CA signs no admin certificate");
  return impl_->SignClientCsr(csr_pem, AdminCertOu(role), name, now, days);
}

ServerCredentials CertificateAuthority::IssueServerCredentials(
    const std::vector<std::string>& names, UnixTime now) const {
  if (impl_->admin) throw std::logic_error("the admin CA signs no server certificate");
  if (names.empty()) throw std::invalid_argument("server certificate needs at least one name");
  PKey key = NewP256Key();
  Cert cert = NewCert(key.get(), now, kServerDays);
  X509_NAME* name = X509_get_subject_name(cert.get());
  AddEntry(name, "O", "Mamori");
  AddEntry(name, "OU", "mamori-collector");
  AddEntry(name, "CN", names.front());
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(impl_->cert.get())) != 1) {
    Fail("X509_set_issuer_name");
  }
  std::string san;
  for (const std::string& n : names) {
    if (!san.empty()) san += ",";
    san += (IsIpAddress(n) ? "IP:" : "DNS:") + n;
  }
  X509* ca = impl_->cert.get();
  AddExtension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert.get(), ca, NID_key_usage, "critical,digitalSignature");
  AddExtension(cert.get(), ca, NID_ext_key_usage, "serverAuth");
  AddExtension(cert.get(), ca, NID_subject_alt_name, san);
  AddExtension(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) <= 0) Fail("X509_sign (server)");
  return {KeyPem(key.get()), CertPem(cert.get())};
}

}  // namespace mamori::collector
