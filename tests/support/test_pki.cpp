#include "test_pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace mamori::testing {
namespace {

std::string ReadBio(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

X509* ParseCert(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) throw std::runtime_error("not a PEM certificate");
  return cert;
}

}  // namespace

KeyAndCsr MakeCsr(KeyKind kind, std::string_view subject_cn) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::kP256:
      key = EVP_EC_gen("P-256");
      break;
    case KeyKind::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyKind::kRsa2048:
      key = EVP_RSA_gen(2048);
      break;
  }
  if (key == nullptr) throw std::runtime_error("key generation failed");
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(subject_cn.data()),
                             static_cast<int>(subject_cn.size()), -1, 0);
  X509_REQ_set_pubkey(req, key);
  const EVP_MD* md = kind == KeyKind::kEd25519 ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req, key, md) <= 0) throw std::runtime_error("X509_REQ_sign failed");

  KeyAndCsr out;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = ReadBio(bio);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  out.csr_pem = ReadBio(bio);
  BIO_free(bio);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return out;
}

std::string SelfSignedCert(std::string_view key_pem, std::string_view cn, std::string_view ou) {
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) throw std::runtime_error("not a PEM private key");
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(ou.data()),
                             static_cast<int>(ou.size()), -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  std::string pem = ReadBio(bio);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

std::string SubjectField(std::string_view cert_pem, std::string_view field) {
  X509* cert = ParseCert(cert_pem);
  const int nid = OBJ_txt2nid(std::string(field).c_str());
  char buffer[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buffer, sizeof buffer);
  X509_free(cert);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

bool VerifiesAgainst(std::string_view cert_pem, std::string_view ca_pem, std::string_view purpose) {
  X509* cert = ParseCert(cert_pem);
  X509* ca = ParseCert(ca_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  const int index = X509_PURPOSE_get_by_sname(std::string(purpose).c_str());
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_get_id(X509_PURPOSE_get0(index)));
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(cert);
  return ok;
}

std::string SubjectAltNames(std::string_view cert_pem) {
  X509* cert = ParseCert(cert_pem);
  const int index = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  std::string out;
  if (index >= 0) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509V3_EXT_print(bio, X509_get_ext(cert, index), 0, 0);
    out = ReadBio(bio);
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

}  // namespace mamori::testing
