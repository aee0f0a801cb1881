#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>

#include "mamori/collector/ca.h"
#include "mamori/collector/sqlite_store.h"
#include "test_pki.h"

namespace mamori::collector {
namespace {

using mamori::testing::KeyKind;
using mamori::testing::MakeCsr;
namespace fs = std::filesystem;

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-ca-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store_ = OpenSqliteStore((dir_ / "c.db").string());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  UnixTime Now() const { return static_cast<UnixTime>(time(nullptr)); }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(CaTest, SignsAP256CsrWithTheTerminalIdAsSubject) {
  const auto ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  const auto csr = MakeCsr(KeyKind::kP256, "admin");
  auto issued = ca.SignTerminalCsr(csr.csr_pem, "t-0123", Now(), 365);
  ASSERT_TRUE(std::holds_alternative<IssuedCertificate>(issued)) << std::get<std::string>(issued);
  const auto& cert = std::get<IssuedCertificate>(issued);
  EXPECT_EQ(mamori::testing::SubjectField(cert.cert_pem, "CN"), "t-0123");
  EXPECT_EQ(mamori::testing::SubjectField(cert.cert_pem, "OU"), kTerminalCertOu);
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(cert.cert_pem, ca.cert_pem(), "sslclient"));
  EXPECT_FALSE(mamori::testing::VerifiesAgainst(cert.cert_pem, ca.cert_pem(), "sslserver"));
  EXPECT_EQ(cert.cert_fingerprint.size(), 64u);
  EXPECT_EQ(cert.key_fingerprint.size(), 64u);
  // The same key signed again has the same key fingerprint but a new certificate.
  const auto again = std::get<IssuedCertificate>(ca.SignTerminalCsr(csr.csr_pem, "t-1", Now(), 1));
  EXPECT_EQ(again.key_fingerprint, cert.key_fingerprint);
  EXPECT_NE(again.cert_fingerprint, cert.cert_fingerprint);
}

// The certificate carries the request's key, and the key fingerprint is the SHA-256 of its
// SubjectPublicKeyInfo, for both accepted key types.
TEST_F(CaTest, CertificateCarriesTheRequestsKeyAndItsFingerprint) {
  const auto ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  for (const KeyKind kind : {KeyKind::kP256, KeyKind::kEd25519}) {
    const auto csr = MakeCsr(kind);
    auto issued = ca.SignTerminalCsr(csr.csr_pem, "t-k", Now(), 30);
    ASSERT_TRUE(std::holds_alternative<IssuedCertificate>(issued)) << std::get<std::string>(issued);
    const auto& cert = std::get<IssuedCertificate>(issued);
    BIO* key_bio = BIO_new_mem_buf(csr.key_pem.data(), static_cast<int>(csr.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO* cert_bio = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
    X509* x509 = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    ASSERT_NE(key, nullptr);
    ASSERT_NE(x509, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(x509), key), 1);
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key, &der);
    ASSERT_GT(size, 0);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(size), digest);
    std::string hex;
    for (unsigned char b : digest) {
      static constexpr char kHex[] = "0123456789abcdef";
      hex += kHex[b >> 4];
      hex += kHex[b & 15];
    }
    EXPECT_EQ(cert.key_fingerprint, hex);
    OPENSSL_free(der);
    X509_free(x509);
    BIO_free(cert_bio);
    EVP_PKEY_free(key);
    BIO_free(key_bio);
  }
}

TEST_F(CaTest, AcceptsEd25519) {
  const auto ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  auto issued = ca.SignTerminalCsr(MakeCsr(KeyKind::kEd25519).csr_pem, "t-ed", Now(), 30);
  ASSERT_TRUE(std::holds_alternative<IssuedCertificate>(issued)) << std::get<std::string>(issued);
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(std::get<IssuedCertificate>(issued).cert_pem,
                                               ca.cert_pem(), "sslclient"));
}

TEST_F(CaTest, RefusesRsaGarbageAndTamperedCsrs) {
  const auto ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  auto rsa = ca.SignTerminalCsr(MakeCsr(KeyKind::kRsa2048).csr_pem, "t", Now(), 30);
  ASSERT_TRUE(std::holds_alternative<std::string>(rsa));
  EXPECT_NE(std::get<std::string>(rsa).find("key type"), std::string::npos);

  auto garbage = ca.SignTerminalCsr("hello", "t", Now(), 30);
  ASSERT_TRUE(std::holds_alternative<std::string>(garbage));
  EXPECT_NE(std::get<std::string>(garbage).find("csr:"), std::string::npos);

  // Splice another key's CSR signature over this CSR's body: the self-signature must fail.
  std::string pem = MakeCsr(KeyKind::kP256, "aaaa").csr_pem;
  const std::string other = MakeCsr(KeyKind::kP256, "bbbb").csr_pem;
  const std::size_t cut = pem.size() - 60;
  pem = pem.substr(0, cut) + other.substr(other.size() - 60);
  auto tampered = ca.SignTerminalCsr(pem, "t", Now(), 30);
  EXPECT_TRUE(std::holds_alternative<std::string>(tampered));

  EXPECT_TRUE(std::holds_alternative<std::string>(
      ca.SignTerminalCsr(std::string(20000, 'A'), "t", Now(), 30)));
}

TEST_F(CaTest, IsCreatedOnceAndReloadedFromTheStore) {
  const std::string first = CertificateAuthority::LoadOrCreate(*store_, Now()).cert_pem();
  const std::string second = CertificateAuthority::LoadOrCreate(*store_, Now()).cert_pem();
  EXPECT_EQ(first, second);
  const auto csr = MakeCsr(KeyKind::kP256);
  const auto reloaded = CertificateAuthority::LoadOrCreate(*store_, Now());
  const auto cert =
      std::get<IssuedCertificate>(reloaded.SignTerminalCsr(csr.csr_pem, "t", Now(), 30));
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(cert.cert_pem, first, "sslclient"));
}

TEST_F(CaTest, AdminCaIsAnotherCaAndPutsTheRoleInTheSubject) {
  const auto terminal_ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  const auto admin_ca = CertificateAuthority::LoadOrCreateAdmin(*store_, Now());
  EXPECT_NE(admin_ca.cert_pem(), terminal_ca.cert_pem());
  EXPECT_EQ(CertificateAuthority::LoadOrCreateAdmin(*store_, Now()).cert_pem(),
            admin_ca.cert_pem());
  const auto csr = MakeCsr(KeyKind::kP256, "admin");
  auto issued = admin_ca.SignAdminCsr(csr.csr_pem, "helpdesk", Role::kItRead, Now(), 30);
  ASSERT_TRUE(std::holds_alternative<IssuedCertificate>(issued)) << std::get<std::string>(issued);
  const std::string& pem = std::get<IssuedCertificate>(issued).cert_pem;
  EXPECT_EQ(mamori::testing::SubjectField(pem, "CN"), "helpdesk");
  EXPECT_EQ(mamori::testing::SubjectField(pem, "OU"), "mamori-role-it-read");
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(pem, admin_ca.cert_pem(), "sslclient"));
  EXPECT_FALSE(mamori::testing::VerifiesAgainst(pem, terminal_ca.cert_pem(), "sslclient"));
  // Neither CA signs the other's kind of certificate.
  EXPECT_THROW(admin_ca.SignTerminalCsr(csr.csr_pem, "t-1", Now(), 30), std::logic_error);
  EXPECT_THROW(terminal_ca.SignAdminCsr(csr.csr_pem, "x", Role::kAdmin, Now(), 30),
               std::logic_error);
  EXPECT_THROW(admin_ca.IssueServerCredentials({"localhost"}, Now()), std::logic_error);
  EXPECT_TRUE(std::holds_alternative<std::string>(
      admin_ca.SignAdminCsr(MakeCsr(KeyKind::kRsa2048).csr_pem, "x", Role::kAdmin, Now(), 30)));
}

TEST_F(CaTest, ServerCertificateCarriesNamesAndAddresses) {
  const auto ca = CertificateAuthority::LoadOrCreate(*store_, Now());
  const auto server = ca.IssueServerCredentials({"localhost", "127.0.0.1", "::1"}, Now());
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(server.cert_pem, ca.cert_pem(), "sslserver"));
  const std::string san = mamori::testing::SubjectAltNames(server.cert_pem);
  EXPECT_NE(san.find("DNS:localhost"), std::string::npos) << san;
  EXPECT_NE(san.find("IP Address:127.0.0.1"), std::string::npos) << san;
  EXPECT_NE(server.key_pem.find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace mamori::collector
