// inotify needs no privilege: the real FileWatch on a directory of its own.
#include "backend/file_watch.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vmgw::backend {
namespace {

TEST(FileWatch, ReportsWritesRenamesAndDeletions) {
  char tmpl[] = "/tmp/vmgw-file-watch.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto watch = make_inotify_file_watch(dir);
  EXPECT_TRUE(watch->read_ready().empty());
  std::ofstream(dir + "/vmnet.hosts.tmp") << "52:54:00:00:00:0a,10.10.0.10,web\n";
  ASSERT_EQ(::rename((dir + "/vmnet.hosts.tmp").c_str(), (dir + "/vmnet.hosts").c_str()), 0);
  ASSERT_EQ(::unlink((dir + "/vmnet.hosts").c_str()), 0);
  EXPECT_EQ(watch->read_ready(), (std::vector<FileEvent>{{"vmnet.hosts.tmp", "created"},
                                                         {"vmnet.hosts.tmp", "written"},
                                                         {"vmnet.hosts.tmp", "moved away"},
                                                         {"vmnet.hosts", "moved in"},
                                                         {"vmnet.hosts", "deleted"}}));
  EXPECT_TRUE(watch->read_ready().empty());
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(watch->read_ready().empty());  // the directory itself went
  EXPECT_THROW(make_inotify_file_watch(dir), std::runtime_error);
}

}  // namespace
}  // namespace vmgw::backend
