#include "checkpoint/StateDirectoryLock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace reka::checkpoint {
namespace {

using ::testing::HasSubstr;

class StateDirectoryLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("reka_lock_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  /// Forks a process that takes the lock, tells us through a pipe, and waits to be killed.
  pid_t holdInChild() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    child_ = ::fork();
    if (child_ == 0) {
      ::close(fds[0]);
      auto lock = StateDirectoryLock::acquire(dir_);
      const char ok = lock.isOk() ? 'y' : 'n';
      (void)!::write(fds[1], &ok, 1);
      for (;;) ::pause();
    }
    ::close(fds[1]);
    char ok = 0;
    EXPECT_EQ(::read(fds[0], &ok, 1), 1);
    ::close(fds[0]);
    EXPECT_EQ(ok, 'y');
    return child_;
  }

  std::string dir_;
  pid_t child_ = -1;
};

// The pid file could be stale after kill -9 (pid reuse: an unrelated process was signalled),
// and two runs started at once could both claim the directory. The kernel's lock cannot be
// stale, and only one process gets it.
TEST_F(StateDirectoryLockTest, OneHolderAtATimeAndTheKernelNamesIt) {
  const pid_t holder = holdInChild();
  auto owner = StateDirectoryLock::owner(dir_);
  ASSERT_TRUE(owner.isOk()) << owner.status().toString();
  ASSERT_TRUE(owner->has_value());
  EXPECT_EQ(**owner, holder);
  auto second = StateDirectoryLock::acquire(dir_);
  ASSERT_FALSE(second.isOk());
  EXPECT_THAT(second.status().message(), HasSubstr("in use by process " + std::to_string(holder)));

  // kill -9: the lock goes with the process, whatever the file still says.
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  child_ = -1;
  auto none = StateDirectoryLock::owner(dir_);
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->has_value());
  auto mine = StateDirectoryLock::acquire(dir_);
  EXPECT_TRUE(mine.isOk()) << mine.status().toString();
}

// An open-file-description lock has no pid (F_GETLK says −1): `reka savepoint` must never get
// it, since kill(−1, …) signals every process of the user.
TEST_F(StateDirectoryLockTest, AHolderWithoutAPidIsAnErrorNotMinusOne) {
  std::filesystem::create_directories(dir_);
  const int fd = ::open(StateDirectoryLock::lockPath(dir_).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_OFD_SETLK, &request), 0);
  auto owner = StateDirectoryLock::owner(dir_);
  EXPECT_FALSE(owner.isOk());
  EXPECT_THAT(owner.status().message(), HasSubstr("cannot name"));
  ::close(fd);
}

TEST_F(StateDirectoryLockTest, NoLockFileMeansNoOwner) {
  auto owner = StateDirectoryLock::owner(dir_);
  ASSERT_TRUE(owner.isOk());
  EXPECT_FALSE(owner->has_value());
}

TEST_F(StateDirectoryLockTest, CreatesThePrivateModesAndRefusesASymlink) {
  {
    auto lock = StateDirectoryLock::acquire(dir_ + "/nested");
    ASSERT_TRUE(lock.isOk()) << lock.status().toString();
    struct stat st {};
    ASSERT_EQ(::stat((dir_ + "/nested").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat(StateDirectoryLock::lockPath(dir_ + "/nested").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  // A symlink planted where the lock file goes is refused, its target untouched.
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/victim") << "precious\n";
  std::filesystem::create_symlink(dir_ + "/victim", StateDirectoryLock::lockPath(dir_));
  auto lock = StateDirectoryLock::acquire(dir_);
  ASSERT_FALSE(lock.isOk());
  EXPECT_THAT(lock.status().message(), HasSubstr("symbolic link"));
  std::ifstream in(dir_ + "/victim");
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "precious");
  EXPECT_FALSE(StateDirectoryLock::owner(dir_).isOk());
}

}  // namespace
}  // namespace reka::checkpoint
