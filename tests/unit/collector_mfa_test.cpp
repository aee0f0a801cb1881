// The collector's MFA key (AES-256-GCM, key file rules), the step an accepted login carries, and
// the import format terminals receive.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "collector/mfa_credential.h"
#include "mamori/collector/mfa_key.h"
#include "mamori/collector/store.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;

class MfaKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-mfakey-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(MfaKeyTest, CreatedOnceWith0600AndReadBack) {
  const std::string path = (dir_ / "mfa.key").string();
  EXPECT_THROW(MfaKey::Load(path, false), MfaKeyError);
  const MfaKey created = MfaKey::Load(path, true);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  const std::string sealed = created.Seal("secret", "alice");
  // Loaded again (not re-created): the same key opens what the first one sealed.
  EXPECT_EQ(MfaKey::Load(path, true).Open(sealed, "alice"), "secret");
  EXPECT_EQ(MfaKey::Load(path, false).Open(sealed, "alice"), "secret");
}

TEST_F(MfaKeyTest, RefusesWrongSizeWrongModeLinksAndNoPath) {
  const std::string path = (dir_ / "mfa.key").string();
  MfaKey::Load(path, true);
  chmod(path.c_str(), 0640);
  try {
    MfaKey::Load(path, true);
    FAIL() << "a group-readable key was used";
  } catch (const MfaKeyError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0600"), std::string::npos) << e.what();
  }
  const std::string short_key = (dir_ / "short.key").string();
  { std::ofstream(short_key) << "0123456789"; }
  chmod(short_key.c_str(), 0600);
  try {
    MfaKey::Load(short_key, true);
    FAIL() << "a 10-byte key was used";
  } catch (const MfaKeyError& e) {
    EXPECT_NE(std::string(e.what()).find("exactly 32 bytes"), std::string::npos) << e.what();
  }
  const std::string link = (dir_ / "link.key").string();
  chmod(path.c_str(), 0600);
  fs::create_symlink(path, link);
  EXPECT_THROW(MfaKey::Load(link, true), MfaKeyError);
  EXPECT_THROW(MfaKey::Load("", true), MfaKeyError);
}

TEST(MfaSeal, TamperingOrAnotherUserOrAnotherKeyDoesNotOpen) {
  std::array<unsigned char, kMfaKeyBytes> bytes{};
  bytes.fill(7);
  const MfaKey key(bytes);
  const std::string sealed = key.Seal("12345678901234567890", "alice");
  ASSERT_EQ(sealed.size(), 12u + 20u + 16u);
  EXPECT_EQ(key.Open(sealed, "alice"), "12345678901234567890");
  // Two seals of one secret differ: a fresh nonce each time.
  EXPECT_NE(key.Seal("12345678901234567890", "alice"), sealed);
  EXPECT_EQ(key.Open(sealed, "bob"), std::nullopt);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 1);
    EXPECT_EQ(key.Open(tampered, "alice"), std::nullopt) << "byte " << i;
  }
  EXPECT_EQ(key.Open(sealed.substr(0, sealed.size() - 1), "alice"), std::nullopt);
  EXPECT_EQ(key.Open("", "alice"), std::nullopt);
  bytes.fill(8);
  EXPECT_EQ(MfaKey(bytes).Open(sealed, "alice"), std::nullopt);
}

TEST(AcceptedStep, OnlyAnAcceptedTotpLoginWithUserAndStep) {
  auto of = [](std::string type, std::string data) {
    return AcceptedStepOf(Event{0, "t", 1, 0, std::move(type), std::move(data)});
  };
  auto a = of("mfa.success", R"({"user":"alice","step":"58000000"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "alice");
  EXPECT_EQ(a->step, 58000000u);
  EXPECT_EQ(of("mfa.success", R"({"user":"alice","step":58000000})")->step, 58000000u);
  EXPECT_FALSE(of("mfa.replay", R"({"user":"alice","step":"58000000"})"));
  EXPECT_FALSE(of("mfa.success", R"({"user":"alice"})"));
  EXPECT_FALSE(of("mfa.success", R"({"user":"alice","step":"5x"})"));
  EXPECT_FALSE(of("mfa.success", R"({"user":"alice","step":"0"})"));
  EXPECT_FALSE(of("mfa.success", R"({"step":"1"})"));
  EXPECT_FALSE(of("mfa.success", "not json"));
}

TEST(MfaCredentialText, UriAndImportFormat) {
  MfaCredential c;
  c.user = "alice@example";
  c.enrolled_at = 1763900000;
  const std::string secret = "12345678901234567890";
  EXPECT_EQ(OtpauthUri(c, secret, "Mamori City"),
            "otpauth://totp/Mamori%20City:alice%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=Mamori%20City&algorithm=SHA1&digits=6&period=30");
  const auto o = ImportFormat(c, secret);
  EXPECT_EQ(o.at("format"), "mamori-mfa-import");
  EXPECT_EQ(o.at("secret_base32"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  EXPECT_EQ(o.at("enrolled_at"), 1763900000);
  EXPECT_TRUE(o.at("recovery").at("hashes").as_array().empty());
  EXPECT_EQ(NewTotpSecret().size(), 20u);
  EXPECT_TRUE(ValidMfaUser("alice.b-c@x_1"));
  EXPECT_FALSE(ValidMfaUser(".alice"));
  EXPECT_FALSE(ValidMfaUser("al/ice"));
  EXPECT_FALSE(ValidMfaUser(std::string(65, 'a')));
}

}  // namespace
}  // namespace mamori::collector
