// Signed bundles, trust sets, keys and VerifyBundle (policy/README.md, "Signed bundle", "Trust
// set", "Verification"): the round trip and every attack the verifier must refuse, with its typed
// error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"
#include "mamori/policy/text.h"
#include "mamori/policy/trust.h"
#include "mamori/policy/verify.h"
#include "policy_test_support.h"

namespace mamori::policy {
namespace {

using test::ErrorPaths;
using test::ErrorStrings;
using test::MinimalDocument;
using test::Text;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
namespace json = boost::json;

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return HexEncode(std::span<const unsigned char>(digest, length));
}

// Verifies an Ed25519 signature with OpenSSL directly, independent of the library's verifier.
bool OpenSslVerifies(const RawPublicKey& key, std::string_view message,
                     const std::vector<unsigned char>& signature) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx, signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

std::string PolicyText(std::uint64_t version, const char* target = "shimin-ka") {
  json::object doc = MinimalDocument();
  doc["version"] = version;
  doc["targets"] = json::array{target, "zeimu-ka"};
  doc["usb"] = json::object{
      {"allow", json::array{json::object{{"id", "ledger-0012"},
                                         {"label", "No.12"},
                                         {"vid", "0781"},
                                         {"pid", "5567"},
                                         {"serial", "4C530001230512116392"},
                                         {"interface_classes", json::array{"08:06:50"}}}}}};
  doc["network"] = json::object{{"allowed_egress", json::array{"10.20.0.0/16"}}};
  return Text(doc);
}

std::string CanonicalOf(std::string_view text) {
  ParseResult r = ParsePolicy(text);
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(ErrorStrings(r.errors));
  return r.ok() ? Canonicalize(*r.policy) : "";
}

std::string TrustJson(std::vector<const SigningKey*> keys, std::size_t threshold) {
  json::array list;
  for (const SigningKey* k : keys) list.push_back(json::string(EncodePublicKey(k->public_key())));
  return Text(json::object{{"threshold", threshold}, {"keys", list}});
}

TrustSet MustTrust(std::vector<const SigningKey*> keys, std::size_t threshold) {
  TrustSetResult r = ParseTrustSet(TrustJson(std::move(keys), threshold));
  EXPECT_TRUE(r.trust) << ::testing::PrintToString(ErrorStrings(r.errors));
  return r.trust ? *r.trust : TrustSet{};
}

class PolicyBundle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new SigningKey(SigningKey::Generate());
    b_ = new SigningKey(SigningKey::Generate());
    c_ = new SigningKey(SigningKey::Generate());
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    delete c_;
  }

  static std::string Sign(const std::string& policy_bytes, std::vector<const SigningKey*> keys) {
    return SerializeBundle(SignPolicy(policy_bytes, keys));
  }

  VerifyContext Context() const {
    VerifyContext c;
    c.now = *ParseTimestamp("2026-11-23T09:00:00Z");
    c.groups = {"shimin-ka"};
    return c;
  }

  VerifyResult Verify(std::string_view bundle) const {
    return VerifyBundle(bundle, trust_a_, Context());
  }

  static SigningKey* a_;
  static SigningKey* b_;
  static SigningKey* c_;
  const std::string canonical_ = CanonicalOf(PolicyText(7));
  const TrustSet trust_a_ = MustTrust({a_}, 1);
};

SigningKey* PolicyBundle::a_ = nullptr;
SigningKey* PolicyBundle::b_ = nullptr;
SigningKey* PolicyBundle::c_ = nullptr;

void ExpectError(const VerifyResult& r, VerifyError expected) {
  EXPECT_FALSE(r.ok());
  if (!r.ok()) {
    EXPECT_EQ(ToString(r.error), ToString(expected)) << r.message;
  }
}

TEST_F(PolicyBundle, SignedBundleVerifies) {
  const VerifyResult r = Verify(Sign(canonical_, {a_}));
  ASSERT_TRUE(r.ok()) << ToString(r.error) << ": " << r.message;
  EXPECT_EQ(r.verified->policy, *ParsePolicy(PolicyText(7)).policy);
  EXPECT_EQ(r.verified->policy_bytes, canonical_);
  EXPECT_EQ(r.verified->hash, Sha256Hex(canonical_));
  EXPECT_EQ(PolicyHash(canonical_), Sha256Hex(canonical_));
  EXPECT_FALSE(r.verified->already_applied);
  EXPECT_THAT(r.verified->signed_by, ElementsAre(a_->key_id()));
}

TEST_F(PolicyBundle, EnvelopeHasTheSpecifiedShape) {
  const json::value v = json::parse(Sign(canonical_, {a_}));
  const json::object& o = v.as_object();
  std::vector<std::string> keys;
  for (const auto& entry : o) keys.emplace_back(entry.key());
  EXPECT_THAT(keys, ElementsAre("format", "policy", "signatures"));
  EXPECT_EQ(std::string_view(o.at("format").as_string()), "mamori-policy-bundle/1");
  EXPECT_EQ(std::string_view(o.at("policy").as_string()), canonical_);
  const json::array& sigs = o.at("signatures").as_array();
  ASSERT_THAT(sigs, SizeIs(1));
  const std::string key_id(sigs[0].at("key_id").as_string());
  EXPECT_EQ(key_id, a_->key_id());
  const auto signature = Base64Decode(std::string(sigs[0].at("signature").as_string()));
  ASSERT_TRUE(signature);
  ASSERT_EQ(signature->size(), 64u);
  // The signature covers the context string, its NUL, then the policy bytes; not the bytes alone.
  const std::string message = std::string("mamori-policy-signature-v1") + '\0' + canonical_;
  EXPECT_TRUE(OpenSslVerifies(a_->public_key(), message, *signature));
  EXPECT_FALSE(OpenSslVerifies(a_->public_key(), canonical_, *signature));
  EXPECT_EQ(SignedMessage(canonical_), message);
}

TEST_F(PolicyBundle, ParseBundleReadsBackWhatSerializeBundleWrote) {
  const Bundle bundle = SignPolicy(canonical_, std::vector<const SigningKey*>{a_, b_});
  std::vector<ValidationError> errors;
  const std::optional<Bundle> read = ParseBundle(SerializeBundle(bundle), errors);
  ASSERT_TRUE(read) << ::testing::PrintToString(ErrorStrings(errors));
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(read->policy_bytes, canonical_);
  EXPECT_EQ(read->signatures, bundle.signatures);
  EXPECT_FALSE(
      ParseBundle(R"({"format":"mamori-policy-bundle/1","policy":"x","signatures":[]})", errors));
  EXPECT_THAT(ErrorPaths(errors), ElementsAre("/signatures"));
}

TEST_F(PolicyBundle, EveryFlippedByteOfThePolicyIsABadSignature) {
  const Bundle good = SignPolicy(canonical_, std::vector<const SigningKey*>{a_});
  for (std::size_t i = 0; i < canonical_.size(); ++i) {
    Bundle bad = good;
    bad.policy_bytes[i] = static_cast<char>(bad.policy_bytes[i] ^ 0x01);
    const VerifyResult r = Verify(SerializeBundle(bad));
    ASSERT_FALSE(r.ok()) << "byte " << i;
    ASSERT_EQ(r.error, VerifyError::kBadSignature) << "byte " << i << ": " << r.message;
  }
}

TEST_F(PolicyBundle, EveryFlippedByteOfTheBundleIsRefused) {
  const std::string good = Sign(canonical_, {a_});
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    ASSERT_FALSE(Verify(bad).ok()) << "byte " << i << " of " << good;
  }
}

TEST_F(PolicyBundle, SignatureByAnUntrustedKeyIsAnUnknownKey) {
  const VerifyResult r = Verify(Sign(canonical_, {b_}));
  ExpectError(r, VerifyError::kUnknownKey);
  EXPECT_THAT(r.message, HasSubstr(b_->key_id()));
}

TEST_F(PolicyBundle, SignatureLiftedFromAnotherBundleIsABadSignature) {
  const Bundle other = SignPolicy(CanonicalOf(PolicyText(8)), std::vector<const SigningKey*>{a_});
  Bundle forged = SignPolicy(canonical_, std::vector<const SigningKey*>{a_});
  forged.signatures = other.signatures;
  ExpectError(Verify(SerializeBundle(forged)), VerifyError::kBadSignature);
}

TEST_F(PolicyBundle, OneBadTrustedSignatureSpoilsTheBundle) {
  // Every signature by a trusted key must verify, even when another one does.
  const Bundle other = SignPolicy(CanonicalOf(PolicyText(8)), std::vector<const SigningKey*>{b_});
  Bundle bundle = SignPolicy(canonical_, std::vector<const SigningKey*>{a_});
  bundle.signatures.push_back(other.signatures[0]);
  const TrustSet trust = MustTrust({a_, b_}, 1);
  ExpectError(VerifyBundle(SerializeBundle(bundle), trust, Context()), VerifyError::kBadSignature);
}

TEST_F(PolicyBundle, SignaturesByUntrustedKeysBesideTrustedOnesAreIgnored) {
  const VerifyResult r = Verify(Sign(canonical_, {c_, a_, b_}));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_THAT(r.verified->signed_by, ElementsAre(a_->key_id()));
}

TEST_F(PolicyBundle, OneKeySigningTwiceDoesNotMeetAThresholdOfTwo) {
  const TrustSet trust = MustTrust({a_, b_}, 2);
  ExpectError(VerifyBundle(Sign(canonical_, {a_, a_}), trust, Context()),
              VerifyError::kBelowThreshold);
  ExpectError(VerifyBundle(Sign(canonical_, {a_, c_}), trust, Context()),
              VerifyError::kBelowThreshold);
  const VerifyResult r = VerifyBundle(Sign(canonical_, {a_, b_}), trust, Context());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_THAT(r.verified->signed_by, ::testing::UnorderedElementsAre(a_->key_id(), b_->key_id()));
  const VerifyResult twice = VerifyBundle(Sign(canonical_, {a_, b_, a_}), trust, Context());
  ASSERT_TRUE(twice.ok()) << twice.message;
  EXPECT_THAT(twice.verified->signed_by, SizeIs(2));
}

TEST_F(PolicyBundle, RollbackAndIdempotentReapply) {
  const std::string bundle = Sign(canonical_, {a_});
  VerifyContext c = Context();
  c.last_version = 8;
  c.last_hash = Sha256Hex(CanonicalOf(PolicyText(8)));
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kRollback);

  c.last_version = 7;
  c.last_hash = Sha256Hex(canonical_);
  VerifyResult r = VerifyBundle(bundle, trust_a_, c);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_TRUE(r.verified->already_applied);

  // The same version with other content: a rollback, never a silent replacement.
  c.last_hash = Sha256Hex(CanonicalOf(PolicyText(7, "other-ka")));
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kRollback);

  c.last_version = 6;
  r = VerifyBundle(bundle, trust_a_, c);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_FALSE(r.verified->already_applied);
}

TEST_F(PolicyBundle, ExpiredFromTheMomentOfExpiry) {
  const std::string bundle = Sign(canonical_, {a_});
  VerifyContext c = Context();
  c.now = *ParseTimestamp("2027-03-31T15:00:00Z");
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kExpired);
  c.now = *ParseTimestamp("2030-01-01T00:00:00Z");
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kExpired);
  c.now = *ParseTimestamp("2027-03-31T14:59:59Z");
  EXPECT_TRUE(VerifyBundle(bundle, trust_a_, c).ok());
}

TEST_F(PolicyBundle, PolicyForOtherTerminalsIsRefused) {
  const std::string bundle = Sign(canonical_, {a_});
  VerifyContext c = Context();
  c.groups = {"kokuho-ka"};
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kNotForTerminal);
  c.groups = {};
  ExpectError(VerifyBundle(bundle, trust_a_, c), VerifyError::kNotForTerminal);
  c.groups = {"kokuho-ka", "zeimu-ka"};
  EXPECT_TRUE(VerifyBundle(bundle, trust_a_, c).ok());
  // "*" is for every terminal, even one with no group.
  const std::string everyone = Sign(CanonicalOf(PolicyText(7, "*")), {a_});
  c.groups = {};
  EXPECT_TRUE(VerifyBundle(everyone, trust_a_, c).ok());
}

TEST_F(PolicyBundle, NonCanonicalPolicyBytesAreMalformedEvenWhenSigned) {
  const ParseResult parsed = ParsePolicy(canonical_);
  ASSERT_TRUE(parsed.ok());
  // Valid policies, validly signed, but not in canonical form.
  for (const std::string& text : {PrettyPrint(*parsed.policy), PolicyText(7), canonical_ + " ",
                                  " " + canonical_, Text(json::parse(test::kReadmeExample))}) {
    ASSERT_TRUE(ParsePolicy(text).ok());
    ExpectError(Verify(Sign(text, {a_})), VerifyError::kMalformed);
  }
  // Signed bytes that are not a valid policy at all.
  json::object invalid = MinimalDocument();
  invalid["version"] = 0;
  ExpectError(Verify(Sign(Text(invalid), {a_})), VerifyError::kMalformed);
  ExpectError(Verify(Sign("not json", {a_})), VerifyError::kMalformed);
}

TEST_F(PolicyBundle, ChecksRunInTheSpecifiedOrder) {
  // Expired, wrong target and a rollback, but signed by an untrusted key: the key is reported.
  VerifyContext c = Context();
  c.now = *ParseTimestamp("2030-01-01T00:00:00Z");
  c.groups = {"kokuho-ka"};
  c.last_version = 9;
  ExpectError(VerifyBundle(Sign(canonical_, {b_}), trust_a_, c), VerifyError::kUnknownKey);
  // A bad trusted signature comes before an unknown key.
  Bundle lifted = SignPolicy(canonical_, std::vector<const SigningKey*>{b_});
  lifted.signatures.push_back(
      SignPolicy("other", std::vector<const SigningKey*>{a_}).signatures[0]);
  ExpectError(VerifyBundle(SerializeBundle(lifted), trust_a_, c), VerifyError::kBadSignature);
  // Authentic but below threshold, though also non-canonical: the threshold is reported first.
  ExpectError(VerifyBundle(Sign(canonical_ + " ", {a_}), MustTrust({a_, b_}, 2), c),
              VerifyError::kBelowThreshold);
  // Authentic: target, then expiry, then version.
  ExpectError(VerifyBundle(Sign(canonical_, {a_}), trust_a_, c), VerifyError::kNotForTerminal);
  c.groups = {"zeimu-ka"};
  ExpectError(VerifyBundle(Sign(canonical_, {a_}), trust_a_, c), VerifyError::kExpired);
  c.now = Context().now;
  ExpectError(VerifyBundle(Sign(canonical_, {a_}), trust_a_, c), VerifyError::kRollback);
}

TEST_F(PolicyBundle, BundleSizeIsLimited) {
  const std::string bundle = Sign(canonical_, {a_});
  const std::string at_limit = bundle + std::string(kMaxBundleBytes - bundle.size(), ' ');
  ASSERT_EQ(at_limit.size(), kMaxBundleBytes);
  EXPECT_TRUE(Verify(at_limit).ok());
  ExpectError(Verify(at_limit + " "), VerifyError::kTooLarge);
  // Size is checked before anything else, even well-formedness.
  ExpectError(Verify(std::string(kMaxBundleBytes + 1, '{')), VerifyError::kTooLarge);
}

TEST_F(PolicyBundle, LargestValidPolicyFitsInABundleEvenWhenEveryByteIsEscaped) {
  // Labels of quotes double in size when the canonical policy is embedded as a JSON string.
  Policy p = *ParsePolicy(canonical_).policy;
  auto rule = [](std::size_t i) {
    AllowRule r;
    char id[32];
    std::snprintf(id, sizeof id, "r%06zu", i);
    r.id = id;
    r.label = std::string(kMaxNameLength, '"');
    r.vid = 0x0781;
    return r;
  };
  p.usb.allow = {rule(0)};
  const std::size_t one = Canonicalize(p).size();
  p.usb.allow.push_back(rule(1));
  const std::size_t per_rule = Canonicalize(p).size() - one;  // rule plus separating comma
  const std::size_t count = 2 + (kMaxDocumentBytes - Canonicalize(p).size()) / per_rule;
  while (p.usb.allow.size() < count) p.usb.allow.push_back(rule(p.usb.allow.size()));
  const std::string canonical = Canonicalize(p);
  ASSERT_LE(canonical.size(), kMaxDocumentBytes);
  ASSERT_GT(canonical.size() + per_rule, kMaxDocumentBytes);
  ASSERT_TRUE(ParsePolicy(canonical).ok());
  const std::string bundle = Sign(canonical, {a_});
  EXPECT_GT(bundle.size(), canonical.size() * 19 / 10);
  EXPECT_TRUE(Verify(bundle).ok()) << VerifyBundle(bundle, trust_a_, Context()).message;
}

TEST_F(PolicyBundle, MalformedEnvelopesAreRefused) {
  const json::value good = json::parse(Sign(canonical_, {a_}));
  auto with = [&](const char* field, json::value v) {
    json::object o = good.as_object();
    o[field] = std::move(v);
    return Text(o);
  };
  auto without = [&](const char* field) {
    json::object o = good.as_object();
    o.erase(field);
    return Text(o);
  };
  const json::value sig = good.at("signatures").at(0);
  auto with_sig = [&](const char* field, json::value v) {
    json::object s = sig.as_object();
    s[field] = std::move(v);
    return with("signatures", json::array{s});
  };
  std::vector<std::string> bad = {
      "",
      "[]",
      "{}",
      without("format"),
      without("policy"),
      without("signatures"),
      with("format", "mamori-policy-bundle/2"),
      with("format", 1),
      with("policy", json::parse(canonical_)),
      with("signatures", json::array{}),
      with("signatures", sig),
      with("extra", 1),
      with_sig("key_id", "xyz"),
      with_sig("key_id", json::string(a_->key_id().substr(0, 30))),
      with_sig("key_id", json::string(a_->key_id() + "00")),
      with_sig("key_id", 5),
      with_sig("signature", "not base64!"),
      with_sig("signature", json::string(Base64Encode(std::vector<unsigned char>(63, 1)))),
      with_sig("signature", json::string(Base64Encode(std::vector<unsigned char>(65, 1)))),
      with_sig("extra", "x"),
  };
  json::array seventeen;
  for (int i = 0; i < 17; ++i) seventeen.push_back(sig);
  bad.push_back(with("signatures", seventeen));
  const std::string text = Text(good);
  bad.push_back(text.substr(0, text.size() - 1) + R"(,"format":"mamori-policy-bundle/1"})");
  bad.push_back(text + "{}");
  for (const std::string& b : bad) ExpectError(Verify(b), VerifyError::kMalformed);

  json::array sixteen;
  for (int i = 0; i < 16; ++i) sixteen.push_back(sig);
  EXPECT_TRUE(Verify(with("signatures", sixteen)).ok());
}

TEST(PolicyTrustSet, ParsesKeysAndThreshold) {
  const SigningKey a = SigningKey::Generate();
  const SigningKey b = SigningKey::Generate();
  const TrustSetResult r = ParseTrustSet(TrustJson({&a, &b}, 2));
  ASSERT_TRUE(r.trust) << ::testing::PrintToString(ErrorStrings(r.errors));
  EXPECT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.trust->threshold, 2u);
  EXPECT_THAT(r.trust->keys, ElementsAre(a.public_key(), b.public_key()));
  ASSERT_NE(r.trust->Find(b.key_id()), nullptr);
  EXPECT_EQ(*r.trust->Find(b.key_id()), b.public_key());
  EXPECT_EQ(r.trust->Find(SigningKey::Generate().key_id()), nullptr);
  // What SerializeTrustSet writes reads back the same.
  const TrustSetResult again = ParseTrustSet(SerializeTrustSet(*r.trust));
  ASSERT_TRUE(again.trust);
  EXPECT_EQ(again.trust->keys, r.trust->keys);
  EXPECT_EQ(again.trust->threshold, 2u);
}

TEST(PolicyTrustSet, ErrorsNameTheirPath) {
  const SigningKey a = SigningKey::Generate();
  const std::string key = EncodePublicKey(a.public_key());
  RawPublicKey raw = a.public_key();
  // The same 32 bytes, but with a stray bit set in the two unused bits of the last character.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string non_canonical = key;
  ASSERT_EQ(non_canonical.back(), '=');
  char& last = non_canonical[non_canonical.size() - 2];
  last = kAlphabet[kAlphabet.find(last) | 1];
  struct Case {
    json::value trust;
    const char* path;
  };
  const Case cases[] = {
      {json::object{{"threshold", 1}}, "/keys"},
      {json::object{{"threshold", 1}, {"keys", json::array{}}}, "/keys"},
      {json::object{{"threshold", 1}, {"keys", key}}, "/keys"},
      {json::object{{"threshold", 1}, {"keys", json::array{"not base64"}}}, "/keys/0"},
      {json::object{{"threshold", 1},
                    {"keys", json::array{Base64Encode(std::span(raw.data(), 31))}}},
       "/keys/0"},
      {json::object{{"threshold", 1}, {"keys", json::array{non_canonical}}}, "/keys/0"},
      {json::object{{"threshold", 1}, {"keys", json::array{key, key}}}, "/keys/1"},
      {json::object{{"threshold", 0}, {"keys", json::array{key}}}, "/threshold"},
      {json::object{{"threshold", 2}, {"keys", json::array{key}}}, "/threshold"},
      {json::object{{"threshold", "1"}, {"keys", json::array{key}}}, "/threshold"},
      {json::object{{"threshold", 1.0}, {"keys", json::array{key}}}, "/threshold"},
      {json::object{{"threshold", 1}, {"keys", json::array{key}}, {"extra", 1}}, "/extra"},
  };
  for (const Case& c : cases) {
    const TrustSetResult r = ParseTrustSet(Text(c.trust));
    EXPECT_FALSE(r.trust) << Text(c.trust);
    EXPECT_THAT(ErrorPaths(r.errors), ElementsAre(c.path)) << Text(c.trust);
  }
  EXPECT_FALSE(ParseTrustSet("").trust);
  EXPECT_FALSE(ParseTrustSet("[]").trust);
  EXPECT_FALSE(ParseTrustSet(R"({"threshold":1,"threshold":1,"keys":[")" + key + R"("]})").trust);
}

TEST(PolicyTrustSet, AtMostSixtyFourKeys) {
  std::vector<SigningKey> keys;
  for (int i = 0; i < 65; ++i) keys.push_back(SigningKey::Generate());
  std::vector<const SigningKey*> ptrs;
  for (int i = 0; i < 64; ++i) ptrs.push_back(&keys[i]);
  const TrustSetResult ok = ParseTrustSet(TrustJson(ptrs, 64));
  ASSERT_TRUE(ok.trust) << ::testing::PrintToString(ErrorStrings(ok.errors));
  EXPECT_EQ(ok.trust->keys.size(), 64u);
  ptrs.push_back(&keys[64]);
  const TrustSetResult too_many = ParseTrustSet(TrustJson(ptrs, 1));
  EXPECT_FALSE(too_many.trust);
  EXPECT_THAT(ErrorPaths(too_many.errors), ElementsAre("/keys"));
}

TEST(PolicySigningKey, PemRoundTripKeepsTheKey) {
  const SigningKey key = SigningKey::Generate();
  const std::string pem = key.ToPem();
  EXPECT_THAT(pem, ::testing::StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  const std::optional<SigningKey> loaded = SigningKey::FromPem(pem);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->public_key(), key.public_key());
  EXPECT_EQ(loaded->key_id(), key.key_id());
  EXPECT_EQ(loaded->ToPem(), pem);
  const std::vector<unsigned char> signature = loaded->Sign("payload");
  EXPECT_TRUE(VerifySignature(key.public_key(), "payload", signature));
  EXPECT_FALSE(VerifySignature(key.public_key(), "payloaD", signature));
  EXPECT_FALSE(VerifySignature(SigningKey::Generate().public_key(), "payload", signature));
}

TEST(PolicySigningKey, FromPemRefusesAnythingButAnEd25519PrivateKey) {
  EXPECT_FALSE(SigningKey::FromPem(""));
  EXPECT_FALSE(
      SigningKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  const std::string pem = SigningKey::Generate().ToPem();
  EXPECT_FALSE(SigningKey::FromPem(pem.substr(0, pem.size() / 2)));

  // An EC private key, and an Ed25519 public key: well-formed PEM, wrong kind.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  EXPECT_FALSE(SigningKey::FromPem(std::string(data, static_cast<std::size_t>(length))));
  BIO_free(bio);
  EVP_PKEY_free(ec);

  const SigningKey key = SigningKey::Generate();
  const RawPublicKey raw = key.public_key();
  EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size());
  bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio, pub), 1);
  const long pub_length = BIO_get_mem_data(bio, &data);
  EXPECT_FALSE(SigningKey::FromPem(std::string(data, static_cast<std::size_t>(pub_length))));
  BIO_free(bio);
  EVP_PKEY_free(pub);
}

TEST(PolicySigningKey, KeyIdIsTheFirstSixteenBytesOfTheSha256OfTheRawPublicKey) {
  const SigningKey key = SigningKey::Generate();
  const RawPublicKey raw = key.public_key();
  const std::string expected =
      Sha256Hex(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()))
          .substr(0, 32);
  EXPECT_EQ(key.key_id(), expected);
  EXPECT_EQ(KeyIdOf(raw), expected);
  // A fixed vector: the all-zero key.
  const RawPublicKey zero{};
  EXPECT_EQ(KeyIdOf(zero), Sha256Hex(std::string(32, '\0')).substr(0, 32));
  EXPECT_EQ(KeyIdOf(zero), "66687aadf862bd776c8fc18b8e9f8e20");
}

TEST(PolicySigningKey, PublicKeysTravelAsBase64OfTheRawBytes) {
  const SigningKey key = SigningKey::Generate();
  const std::string text = EncodePublicKey(key.public_key());
  EXPECT_EQ(text.size(), 44u);
  const RawPublicKey raw = key.public_key();
  EXPECT_EQ(Base64Decode(text), std::vector<unsigned char>(raw.begin(), raw.end()));
  EXPECT_EQ(DecodePublicKey(text), key.public_key());
  EXPECT_FALSE(DecodePublicKey(text.substr(0, 40)));
  EXPECT_FALSE(DecodePublicKey(Base64Encode(std::vector<unsigned char>(33, 7))));
  EXPECT_FALSE(DecodePublicKey(""));
}

TEST(PolicyVerifyError, NamesFollowTheSpecification) {
  EXPECT_EQ(ToString(VerifyError::kTooLarge), "too large");
  EXPECT_EQ(ToString(VerifyError::kMalformed), "malformed");
  EXPECT_EQ(ToString(VerifyError::kBadSignature), "bad signature");
  EXPECT_EQ(ToString(VerifyError::kUnknownKey), "unknown key");
  EXPECT_EQ(ToString(VerifyError::kBelowThreshold), "below threshold");
  EXPECT_EQ(ToString(VerifyError::kNotForTerminal), "not for this terminal");
  EXPECT_EQ(ToString(VerifyError::kExpired), "expired");
  EXPECT_EQ(ToString(VerifyError::kRollback), "rollback");
}

}  // namespace
}  // namespace mamori::policy
