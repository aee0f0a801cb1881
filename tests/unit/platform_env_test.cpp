// The Linux Env against real files in a fresh temporary directory.
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mamori/platform/env.h"

namespace mamori::platform {
namespace {

using ::testing::HasSubstr;

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mamori-env-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    saved_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(saved_umask_);
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void Put(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }
  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  static bool IsSymlink(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }
  static bool Exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    EXPECT_NE(d, nullptr);
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Env& env_ = Env::Default();
  std::string dir_;
  mode_t saved_umask_ = 0;
};

// Makes writes beyond `bytes` fail with EFBIG for the duration of a test.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST_F(EnvTest, DefaultIsOneInstance) { EXPECT_EQ(&Env::Default(), &Env::Default()); }

TEST_F(EnvTest, CreateNewFileWritesExactModeDespiteUmask) {
  ::umask(077);
  ASSERT_TRUE(env_.CreateNewFile(Path("pub"), "public", 0644).ok());
  EXPECT_EQ(ModeOf(Path("pub")), 0644u);
  ::umask(0);
  ASSERT_TRUE(env_.CreateNewFile(Path("key"), "secret", 0600).ok());
  EXPECT_EQ(ModeOf(Path("key")), 0600u);
  EXPECT_EQ(Slurp(Path("pub")), "public");
  EXPECT_EQ(Slurp(Path("key")), "secret");
}

TEST_F(EnvTest, CreateNewFileRefusesExistingFile) {
  Put(Path("f"), "old");
  Status s = env_.CreateNewFile(Path("f"), "new", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EEXIST);
  EXPECT_THAT(s.message(), HasSubstr(Path("f")));
  EXPECT_THAT(s.message(), HasSubstr(std::strerror(EEXIST)));
  EXPECT_EQ(Slurp(Path("f")), "old");
}

TEST_F(EnvTest, CreateNewFileRefusesPlantedSymlinkAndLeavesTargetAlone) {
  Put(Path("target"), "victim");
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  ASSERT_EQ(::symlink(Path("absent").c_str(), Path("dangling").c_str()), 0);

  Status s = env_.CreateNewFile(Path("link"), "attack", 0666);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(Path("link")));
  EXPECT_EQ(Slurp(Path("target")), "victim");
  EXPECT_EQ(ModeOf(Path("target")), 0644u);

  EXPECT_FALSE(env_.CreateNewFile(Path("dangling"), "attack", 0666).ok());
  EXPECT_FALSE(Exists(Path("absent")));
}

TEST_F(EnvTest, CreateNewFileRemovesWhatItCreatedOnWriteError) {
  std::string big(64 * 1024, 'x');
  Status s = [&] {
    FileSizeLimit limit(4096);
    return env_.CreateNewFile(Path("big"), big, 0600);
  }();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EFBIG);
  EXPECT_THAT(s.message(), HasSubstr(Path("big")));
  EXPECT_FALSE(Exists(Path("big")));
}

TEST_F(EnvTest, CreateNewFileInMissingDirectoryNamesThePath) {
  Status s = env_.CreateNewFile(Path("nodir/f"), "x", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_THAT(s.message(), HasSubstr(Path("nodir/f")));
}

TEST_F(EnvTest, ReadFileReadsWholeFileUpToTheLimit) {
  Put(Path("f"), "12345");
  std::string out;
  ASSERT_TRUE(env_.ReadFile(Path("f"), 5, &out).ok());
  EXPECT_EQ(out, "12345");
  Put(Path("empty"), "");
  out = "stale";
  ASSERT_TRUE(env_.ReadFile(Path("empty"), 5, &out).ok());
  EXPECT_EQ(out, "");
}

TEST_F(EnvTest, ReadFileRefusesTooLargeFile) {
  Put(Path("f"), "123456");
  std::string out = "unchanged";
  Status s = env_.ReadFile(Path("f"), 5, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EFBIG);
  EXPECT_THAT(s.message(), HasSubstr(Path("f")));
  EXPECT_THAT(s.message(), HasSubstr("5 bytes"));
  EXPECT_EQ(out, "unchanged");
}

// Files under /proc report a size of 0 yet have content: the limit must hold for what is read.
TEST_F(EnvTest, ReadFileLimitHoldsWhenTheSizeIsUnderstated) {
  std::string out;
  ASSERT_TRUE(env_.ReadFile("/proc/self/status", 1 << 16, &out).ok());
  EXPECT_THAT(out, HasSubstr("Pid:"));
  Status s = env_.ReadFile("/proc/self/status", 10, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EFBIG);
  EXPECT_THAT(s.message(), HasSubstr("/proc/self/status"));
}

TEST_F(EnvTest, ReadFileRefusesSymlink) {
  Put(Path("target"), "secret");
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  std::string out;
  Status s = env_.ReadFile(Path("link"), 100, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ELOOP);
  EXPECT_THAT(s.message(), HasSubstr(Path("link")));
  EXPECT_TRUE(out.empty());
}

TEST_F(EnvTest, ReadFileRefusesDirectoryAndFifoWithoutBlocking) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  std::string out;
  Status d = env_.ReadFile(Path("d"), 100, &out);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.message(), HasSubstr(Path("d") + ": not a regular file"));
  Status f = env_.ReadFile(Path("fifo"), 100, &out);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.message(), HasSubstr(Path("fifo") + ": not a regular file"));
}

TEST_F(EnvTest, ReadFileOfMissingFileNamesPathAndReason) {
  std::string out;
  Status s = env_.ReadFile(Path("missing"), 100, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_THAT(s.message(), HasSubstr(Path("missing")));
  EXPECT_THAT(s.message(), HasSubstr(std::strerror(ENOENT)));
}

TEST_F(EnvTest, WriteFileAtomicCreatesAndReplacesWithExactModeAndNoTempFiles) {
  ::umask(077);
  ASSERT_TRUE(env_.WriteFileAtomic(Path("state"), "first", 0644).ok());
  EXPECT_EQ(Slurp(Path("state")), "first");
  EXPECT_EQ(ModeOf(Path("state")), 0644u);
  ASSERT_TRUE(env_.WriteFileAtomic(Path("state"), "second, longer", 0640).ok());
  EXPECT_EQ(Slurp(Path("state")), "second, longer");
  EXPECT_EQ(ModeOf(Path("state")), 0640u);
  EXPECT_EQ(Names(), std::vector<std::string>{"state"});
}

TEST_F(EnvTest, WriteFileAtomicReplacesSymlinkItselfNotItsTarget) {
  Put(Path("target"), "victim");
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  ASSERT_TRUE(env_.WriteFileAtomic(Path("link"), "new", 0600).ok());
  EXPECT_FALSE(IsSymlink(Path("link")));
  EXPECT_EQ(Slurp(Path("link")), "new");
  EXPECT_EQ(Slurp(Path("target")), "victim");
  EXPECT_EQ(Names(), (std::vector<std::string>{"link", "target"}));
}

TEST_F(EnvTest, WriteFileAtomicKeepsOldContentOnWriteError) {
  Put(Path("state"), "old");
  std::string big(64 * 1024, 'x');
  Status s = [&] {
    FileSizeLimit limit(4096);
    return env_.WriteFileAtomic(Path("state"), big, 0600);
  }();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EFBIG);
  EXPECT_THAT(s.message(), HasSubstr(Path("state")));
  EXPECT_EQ(Slurp(Path("state")), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"state"});
}

TEST_F(EnvTest, WriteFileAtomicOverDirectoryFailsAndLeavesNoTemp) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0700), 0);
  Status s = env_.WriteFileAtomic(Path("d"), "x", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(Path("d")));
  EXPECT_EQ(Names(), std::vector<std::string>{"d"});
}

TEST_F(EnvTest, WritesRefuseADirectoryReachedThroughAFinalSymlink) {
  ASSERT_EQ(::mkdir(Path("real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(Path("real").c_str(), Path("alias").c_str()), 0);
  Status atomic = env_.WriteFileAtomic(Path("alias/f"), "x", 0600);
  ASSERT_FALSE(atomic.ok());
  EXPECT_THAT(atomic.message(), HasSubstr(Path("alias/f")));
  Status create = env_.CreateNewFile(Path("alias/f"), "x", 0600);
  ASSERT_FALSE(create.ok());
  EXPECT_THAT(create.message(), HasSubstr(Path("alias/f")));
  EXPECT_FALSE(Exists(Path("real/f")));
}

TEST_F(EnvTest, RemoveFileRemovesTheNameAndNeverALinkTarget) {
  Put(Path("f"), "x");
  Put(Path("target"), "victim");
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  ASSERT_TRUE(env_.RemoveFile(Path("f")).ok());
  ASSERT_TRUE(env_.RemoveFile(Path("link")).ok());
  EXPECT_EQ(Names(), std::vector<std::string>{"target"});
  EXPECT_EQ(Slurp(Path("target")), "victim");

  Status s = env_.RemoveFile(Path("f"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_THAT(s.message(), HasSubstr(Path("f")));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0700), 0);
  EXPECT_FALSE(env_.RemoveFile(Path("d")).ok());
  EXPECT_TRUE(Exists(Path("d")));
}

TEST_F(EnvTest, RejectsPathsThatNameNoFile) {
  for (const std::string& p : {std::string(""), Path(""), Path(".."), dir_ + "/."}) {
    Status s = env_.WriteFileAtomic(p, "x", 0600);
    EXPECT_FALSE(s.ok()) << p;
    EXPECT_EQ(s.err(), EINVAL) << p;
    EXPECT_FALSE(env_.CreateNewFile(p, "x", 0600).ok()) << p;
    EXPECT_EQ(env_.RemoveFile(p).err(), EINVAL) << p;
  }
}

TEST_F(EnvTest, RelativePathsUseTheWorkingDirectory) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  Status s = env_.CreateNewFile("rel", "here", 0600);
  std::string out;
  Status r = env_.ReadFile("rel", 100, &out);
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(out, "here");
  EXPECT_EQ(Slurp(Path("rel")), "here");
}

}  // namespace
}  // namespace mamori::platform
