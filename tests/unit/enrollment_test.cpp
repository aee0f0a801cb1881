// The stored enrollment (one atomic file, 0600, refused twice, errors naming the field) and the
// host facts read through an Env.
#include "mamori/agent/enrollment.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <map>

#include "temp_dir.h"

namespace mamori::agent {
namespace {

class FakeEnv : public platform::Env {
 public:
  std::map<std::string, std::string> files;
  platform::Status ReadFile(const std::string& path, std::size_t, std::string* out) override {
    auto it = files.find(path);
    if (it == files.end()) return platform::Status::Error(ENOENT, path + ": not found");
    *out = it->second;
    return platform::Status::Ok();
  }
  platform::Status ReadPrivateFile(const std::string& path, std::size_t max,
                                   std::string* out) override {
    return ReadFile(path, max, out);
  }
  platform::Status CreateNewFile(const std::string&, std::string_view, mode_t) override {
    return platform::Status::Error(EROFS, "read-only");
  }
  platform::Status WriteFileAtomic(const std::string&, std::string_view, mode_t) override {
    return platform::Status::Error(EROFS, "read-only");
  }
  platform::Status RemoveFile(const std::string&) override {
    return platform::Status::Error(EROFS, "read-only");
  }
};

Enrollment Sample() {
  return Enrollment{"https://127.0.0.1:8443", "CA PEM",   "CERT PEM", "KEY PEM",
                    "t-0011223344556677",     "shimin-ka"};
}

TEST(EnrollmentTest, StoredOnceWholeAndPrivate) {
  mamori::testing::TempDir tmp;
  std::unique_ptr<platform::SecureDir> dir;
  ASSERT_TRUE(platform::SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  std::optional<Enrollment> loaded;
  ASSERT_TRUE(LoadEnrollment(*dir, &loaded).ok());
  EXPECT_FALSE(loaded.has_value());

  ASSERT_TRUE(SaveEnrollment(*dir, Sample(), false).ok());
  struct stat st;
  ASSERT_EQ(::stat((tmp.path() + "/state/enrollment.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(LoadEnrollment(*dir, &loaded).ok());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->terminal_id, "t-0011223344556677");
  EXPECT_EQ(loaded->key_pem, "KEY PEM");
  EXPECT_EQ(loaded->group, "shimin-ka");

  Enrollment other = Sample();
  other.terminal_id = "t-ffffffffffffffff";
  platform::Status s = SaveEnrollment(*dir, other, false);
  EXPECT_EQ(s.err(), EEXIST);
  EXPECT_NE(s.message().find("already enrolled"), std::string::npos) << s.message();
  ASSERT_TRUE(LoadEnrollment(*dir, &loaded).ok());
  EXPECT_EQ(loaded->terminal_id, "t-0011223344556677");
  ASSERT_TRUE(SaveEnrollment(*dir, other, true).ok());
  ASSERT_TRUE(LoadEnrollment(*dir, &loaded).ok());
  EXPECT_EQ(loaded->terminal_id, "t-ffffffffffffffff");
}

TEST(EnrollmentTest, DamagedFileIsAnErrorNamingTheField) {
  mamori::testing::TempDir tmp;
  std::unique_ptr<platform::SecureDir> dir;
  ASSERT_TRUE(platform::SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  ASSERT_TRUE(dir->WriteAtomic("enrollment.json",
                               R"({"url":"https://c:8443","ca":"x","key":"y","terminal_id":"t-1"})",
                               0600)
                  .ok());
  std::optional<Enrollment> loaded;
  platform::Status s = LoadEnrollment(*dir, &loaded);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/certificate"), std::string::npos) << s.message();
  ASSERT_TRUE(dir->WriteAtomic("enrollment.json", "{not json", 0600).ok());
  EXPECT_FALSE(LoadEnrollment(*dir, &loaded).ok());
}

TEST(HostFactsTest, ReadsFactsAndToleratesMissingOptionalOnes) {
  FakeEnv env;
  env.files["/etc/machine-id"] = "0123456789abcdef0123456789abcdef\n";
  env.files["/proc/sys/kernel/hostname"] = "shimin-pc-01\n";
  // /etc/os-release is usually a link, which the Env does not follow.
  env.files["/usr/lib/os-release"] =
      "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
  HostFacts facts;
  ASSERT_TRUE(ReadHostFacts(env, &facts).ok());
  EXPECT_EQ(facts.machine_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(facts.hostname, "shimin-pc-01");
  EXPECT_EQ(facts.os, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(facts.serial, "");  // root-only on real machines

  env.files["/sys/devices/virtual/dmi/id/product_serial"] = "PF3ABC12\n";
  ASSERT_TRUE(ReadHostFacts(env, &facts).ok());
  EXPECT_EQ(facts.serial, "PF3ABC12");

  env.files.erase("/etc/machine-id");
  platform::Status s = ReadHostFacts(env, &facts);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("machine-id"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace mamori::agent
