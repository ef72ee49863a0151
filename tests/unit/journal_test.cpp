// The journal's native protocol and the JOURNAL_STREAM check (daemon/journal.h), and the fields
// an API change is logged with (daemon/change_fields.h).
#include "daemon/journal.h"

#include <gtest/gtest.h>

#include "daemon/change_fields.h"

namespace vmgw::daemon {
namespace {

TEST(Journal, StreamIsJournalOnlyForStderrsOwnDeviceAndInode) {
  EXPECT_TRUE(stream_is_journal("8:123456", 8, 123456));
  EXPECT_FALSE(stream_is_journal("8:123456", 8, 123457));  // stderr redirected by a parent
  EXPECT_FALSE(stream_is_journal(std::nullopt, 8, 123456));
  EXPECT_FALSE(stream_is_journal("", 8, 123456));
  EXPECT_FALSE(stream_is_journal("8:", 8, 0));
  EXPECT_FALSE(stream_is_journal("8:12x", 8, 12));
}

TEST(Journal, EntryIsKeyValueLinesAndBinaryForMultiline) {
  EXPECT_EQ(journal_entry({{"MESSAGE", "hello"}, {"PRIORITY", "6"}}),
            "MESSAGE=hello\nPRIORITY=6\n");
  std::string two_lines = "a\nb";
  std::string expected = "MESSAGE\n" + std::string("\x03\0\0\0\0\0\0\0", 8) + "a\nb\n";
  EXPECT_EQ(journal_entry({{"MESSAGE", two_lines}}), expected);
}

TEST(Journal, SendFailsWithoutJournald) {
  EXPECT_FALSE(journal_send("MESSAGE=x\n", "/nonexistent/journal/socket"));
}

TEST(ChangeFields, ObjectAndChangeFromThePathOrTheAnswer) {
  auto f = change_fields("POST", "/v1/vms", R"({"name":"web1","ip":"10.0.0.5"})");
  EXPECT_EQ(f.object, "vm/web1");
  EXPECT_EQ(f.change, "add");
  f = change_fields("DELETE", "/v1/vms/web1", "");
  EXPECT_EQ(f.object, "vm/web1");
  EXPECT_EQ(f.change, "remove");
  f = change_fields("PATCH", "/v1/vms/db", "{}");
  EXPECT_EQ(f.change, "set");
  f = change_fields("POST", "/v1/eips/203.0.113.17/bind", "{}");
  EXPECT_EQ(f.object, "eip/203.0.113.17");
  EXPECT_EQ(f.change, "bind");
  f = change_fields("POST", "/v1/eips", R"({"address":"203.0.113.20","pool":"p"})");
  EXPECT_EQ(f.object, "eip/203.0.113.20");
  f = change_fields("POST", "/v1/forwards", "not json");
  EXPECT_EQ(f.object, "forward");
  EXPECT_EQ(f.change, "add");
}

}  // namespace
}  // namespace vmgw::daemon
