// The load generator's identity store on real files: what one run appends the next one reads,
// identities of another collector are refused, and a line cut short by a crash is dropped.
#include "identities.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace mamori::bench {
namespace {

// A self-signed certificate standing for a collector's CA.
std::string MakeCaPem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

class IdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/identities-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Identity Sample(const std::string& id) {
    const KeyAndCsr made = MakeKeyAndCsr();
    return {id, made.key_der, CertificateDer(ca_, "test CA")};
  }

  std::string dir_;
  std::string ca_ = MakeCaPem();
};

TEST_F(IdentityStoreTest, WhatOneRunAppendsTheNextReads) {
  const Identity a = Sample("t-a"), b = Sample("t-b");
  {
    IdentityStore store(dir_ + "/ids", ca_);
    EXPECT_TRUE(store.loaded().empty());
    store.Append(a);
    store.Append(b);
    store.Sync();
    store.SaveSequences({{"t-a", 7}, {"t-b", 9}});
  }
  IdentityStore again(dir_ + "/ids", ca_);
  ASSERT_EQ(again.loaded().size(), 2u);
  EXPECT_EQ(again.loaded()[0].id, "t-a");
  EXPECT_EQ(again.loaded()[0].key_der, a.key_der);
  EXPECT_EQ(again.loaded()[1].cert_der, b.cert_der);
  const auto sequences = again.LoadSequences();
  ASSERT_EQ(sequences.size(), 2u);
  EXPECT_EQ(sequences[1], (std::pair<std::string, std::uint64_t>{"t-b", 9}));
}

TEST_F(IdentityStoreTest, RefusesIdentitiesOfAnotherCollector) {
  {
    IdentityStore store(dir_ + "/ids", ca_);
    store.Append(Sample("t-a"));
  }
  EXPECT_THROW(IdentityStore(dir_ + "/ids", MakeCaPem()), std::runtime_error);
}

TEST_F(IdentityStoreTest, DropsALineCutShortAndAppendsAfterTheLastWholeOne) {
  {
    IdentityStore store(dir_ + "/ids", ca_);
    store.Append(Sample("t-a"));
  }
  std::ofstream(dir_ + "/ids/identities", std::ios::app) << "t-b AAAA";
  {
    IdentityStore store(dir_ + "/ids", ca_);
    ASSERT_EQ(store.loaded().size(), 1u);
    store.Append(Sample("t-c"));
  }
  IdentityStore again(dir_ + "/ids", ca_);
  ASSERT_EQ(again.loaded().size(), 2u);
  EXPECT_EQ(again.loaded()[1].id, "t-c");
}

TEST_F(IdentityStoreTest, NamesTheLineThatDoesNotParse) {
  {
    IdentityStore store(dir_ + "/ids", ca_);
    store.Append(Sample("t-a"));
  }
  std::ofstream(dir_ + "/ids/identities", std::ios::app) << "t-b not-base64!\n";
  try {
    IdentityStore store(dir_ + "/ids", ca_);
    FAIL() << "a malformed line was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mamori::bench
