#include "reka/connector/AppendFile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace reka::connector {
namespace {

using ::testing::HasSubstr;

class AppendFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reka_append_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::filesystem::path dir_;
};

TEST_F(AppendFileTest, OpeningKeepsTheContentUntilARunSaysWhereItStarts) {
  std::ofstream(path("out")) << "old-1\nold-2\n";
  auto file = AppendFile::open(path("out"));
  ASSERT_TRUE(file.isOk()) << file.status().toString();
  EXPECT_EQ(read(path("out")), "old-1\nold-2\n");  // opening alone truncates nothing
  (*file)->resetTo(6);                              // a restored run: its checkpoint saw "old-1\n"
  EXPECT_EQ(read(path("out")), "old-1\nold-2\n");  // applied lazily
  ASSERT_TRUE((*file)->append("new\n").isOk());
  EXPECT_EQ(read(path("out")), "old-1\nnew\n");
  auto length = (*file)->sync();
  ASSERT_TRUE(length.isOk());
  EXPECT_EQ(*length, 10);
  (*file)->resetTo(0);  // a fresh run
  auto empty = (*file)->sync();
  ASSERT_TRUE(empty.isOk());
  EXPECT_EQ(*empty, 0);
  EXPECT_EQ(read(path("out")), "");
}

TEST_F(AppendFileTest, ANegativeResetCancelsAPendingOne) {
  std::ofstream(path("out")) << "keep\n";
  auto file = AppendFile::open(path("out"));
  ASSERT_TRUE(file.isOk());
  (*file)->resetTo(0);
  (*file)->resetTo(-1);
  ASSERT_TRUE((*file)->append("more\n").isOk());
  EXPECT_EQ(read(path("out")), "keep\nmore\n");
}

TEST_F(AppendFileTest, ACheckpointLengthBeyondTheFileIsAnError) {
  std::ofstream(path("out")) << "abc";
  auto file = AppendFile::open(path("out"));
  ASSERT_TRUE(file.isOk());
  (*file)->resetTo(100);
  Status s = (*file)->append("x");
  EXPECT_FALSE(s.isOk());
  EXPECT_THAT(s.message(), HasSubstr("truncated or replaced outside the job"));
}

// Reka never writes through a symlink it did not create: root would otherwise overwrite the
// link's target.
TEST_F(AppendFileTest, RefusesASymlinkAtThePath) {
  std::ofstream(path("target")) << "precious\n";
  std::filesystem::create_symlink(path("target"), path("link"));
  auto file = AppendFile::open(path("link"));
  ASSERT_FALSE(file.isOk());
  EXPECT_THAT(file.status().message(), HasSubstr("symbolic link"));
  EXPECT_EQ(read(path("target")), "precious\n");
}

TEST_F(AppendFileTest, RefusesADirectoryAndAMissingDirectoryAndAnEmptyPath) {
  EXPECT_FALSE(AppendFile::open(dir_.string()).isOk());
  auto missing = AppendFile::open(path("no/such/dir/out"));
  ASSERT_FALSE(missing.isOk());
  EXPECT_THAT(missing.status().message(), HasSubstr("no/such/dir/out"));
  EXPECT_FALSE(AppendFile::open("").isOk());
}

}  // namespace
}  // namespace reka::connector
