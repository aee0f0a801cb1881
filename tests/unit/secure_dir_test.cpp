#include "mamori/platform/secure_dir.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "temp_dir.h"

namespace mamori::platform {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SecureDirTest, CreatesPrivateDirectoryAndReplacesAtomically) {
  mamori::testing::TempDir tmp;
  std::unique_ptr<SecureDir> dir;
  ASSERT_TRUE(SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  struct stat st;
  ASSERT_EQ(::stat((tmp.path() + "/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(dir->WriteAtomic("f", "one", 0600).ok());
  ASSERT_TRUE(dir->WriteAtomic("f", "two", 0600).ok());
  std::string data;
  ASSERT_TRUE(dir->Read("f", 100, &data).ok());
  EXPECT_EQ(data, "two");
  ASSERT_EQ(::stat((tmp.path() + "/state/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Status s = dir->CreateAtomic("f", "three", 0600);
  EXPECT_EQ(s.err(), EEXIST);
  EXPECT_EQ(Slurp(tmp.path() + "/state/f"), "two");
}

TEST(SecureDirTest, RefusesDirectoryWritableByOthers) {
  mamori::testing::TempDir tmp;
  const std::string path = tmp.path() + "/open";
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0777), 0);
  std::unique_ptr<SecureDir> dir;
  Status s = SecureDir::Open(path, 0700, &dir);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("writable by group or others"), std::string::npos) << s.message();
}

TEST(SecureDirTest, RefusesDirectoryThatIsALink) {
  mamori::testing::TempDir tmp;
  ASSERT_EQ(::mkdir((tmp.path() + "/real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink("real", (tmp.path() + "/state").c_str()), 0);
  std::unique_ptr<SecureDir> dir;
  Status s = SecureDir::Open(tmp.path() + "/state", 0700, &dir);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.err() == ELOOP || s.err() == ENOTDIR) << s.message();
}

TEST(SecureDirTest, PlantedLinksAreNeverFollowed) {
  mamori::testing::TempDir tmp;
  const std::string victim = tmp.path() + "/victim";
  { std::ofstream(victim) << "precious"; }
  std::unique_ptr<SecureDir> dir;
  ASSERT_TRUE(SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  for (const char* name : {"read", "replace", "lock", "append"}) {
    ASSERT_EQ(::symlink(victim.c_str(), (tmp.path() + "/state/" + name).c_str()), 0);
  }
  std::string data;
  EXPECT_EQ(dir->Read("read", 100, &data).err(), ELOOP);
  std::unique_ptr<FileLock> lock;
  EXPECT_EQ(dir->Lock("lock", &lock).err(), ELOOP);
  std::unique_ptr<AppendFile> append;
  EXPECT_EQ(dir->OpenAppend("append", 0600, &append).err(), ELOOP);
  EXPECT_EQ(dir->OpenAppendExisting("append", &append).err(), ELOOP);
  // Replacing swaps the link itself out; the file it pointed to is untouched.
  ASSERT_TRUE(dir->WriteAtomic("replace", "new", 0600).ok());
  struct stat st;
  ASSERT_EQ(::lstat((tmp.path() + "/state/replace").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(Slurp(victim), "precious");
}

// Appending to an existing file never creates one: a missing name is an error, not a new file.
TEST(SecureDirTest, AppendingToAnExistingFileNeverCreatesOne) {
  mamori::testing::TempDir tmp;
  std::unique_ptr<SecureDir> dir;
  ASSERT_TRUE(SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  std::unique_ptr<AppendFile> append;
  EXPECT_EQ(dir->OpenAppendExisting("log", &append).err(), ENOENT);
  EXPECT_NE(::access((tmp.path() + "/state/log").c_str(), F_OK), 0);
  ASSERT_TRUE(dir->WriteAtomic("log", "a\n", 0600).ok());
  ASSERT_TRUE(dir->OpenAppendExisting("log", &append).ok());
  ASSERT_TRUE(append->Append("b\n").ok());
  EXPECT_EQ(Slurp(tmp.path() + "/state/log"), "a\nb\n");
}

TEST(SecureDirTest, RejectsNamesThatLeaveTheDirectory) {
  mamori::testing::TempDir tmp;
  std::unique_ptr<SecureDir> dir;
  ASSERT_TRUE(SecureDir::Open(tmp.path() + "/state", 0700, &dir).ok());
  EXPECT_EQ(dir->WriteAtomic("../escape", "x", 0600).err(), EINVAL);
  EXPECT_EQ(dir->WriteAtomic("..", "x", 0600).err(), EINVAL);
  EXPECT_NE(::access((tmp.path() + "/escape").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace mamori::platform
