#include "engine/input_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace chipwatch {
namespace {

struct Doc {
  std::string text;
  uint64_t line;
  std::string error;
};

std::vector<Doc> Drain(InputReader& reader) {
  std::vector<Doc> docs;
  InputDocument doc;
  while (reader.Next(doc)) {
    if (doc.error.empty()) {
      EXPECT_GE(doc.capacity, doc.text.size() + kInputPadding);
    }
    docs.push_back({std::string(doc.text), doc.line, doc.error});
  }
  EXPECT_TRUE(reader.status().ok());
  return docs;
}

// Frames `content` (at most a pipe buffer's worth) read from a pipe, as stdin is.
std::vector<Doc> FramePipe(const std::string& content, size_t max_document = 1 << 20) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  EXPECT_EQ(write(fds[1], content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fds[1]);
  InputReader reader(fds[0], true, max_document);
  EXPECT_FALSE(reader.mapped());
  return Drain(reader);
}

// Writes `content` to a temporary file and frames it.
std::vector<Doc> Frame(const std::string& content, size_t max_document = 1 << 20) {
  char path[] = "/tmp/chipwatch-input-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  auto reader = InputReader::Open(path, max_document);
  EXPECT_TRUE(reader.ok());
  std::vector<Doc> docs = Drain(**reader);
  EXPECT_EQ((*reader)->bytes_read(), content.size());
  unlink(path);
  return docs;
}

// Frames `input` from a file and from a pipe with a 4 KiB limit; they must agree document for
// document (text, line, error or not). Returns the file's framing.
std::vector<Doc> ExpectPipeFramesAsFile(const std::string& input) {
  const auto file = Frame(input, 4096);
  const auto from_pipe = FramePipe(input, 4096);
  EXPECT_EQ(from_pipe.size(), file.size());
  for (size_t i = 0; i < std::min(file.size(), from_pipe.size()); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(from_pipe[i].text, file[i].text);
    EXPECT_EQ(from_pipe[i].line, file[i].line);
    EXPECT_EQ(from_pipe[i].error.empty(), file[i].error.empty());
  }
  return file;
}

// A fuzzer's input kept in tests/data/fuzz-regressions/replay/.
std::string FuzzRegression(const std::string& name) {
  std::ifstream in(std::string(CHIPWATCH_TEST_DATA) + "/fuzz-regressions/replay/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(InputReaderTest, JsonLinesWithBlankLinesKeepLineNumbers) {
  auto docs = Frame("{\"a\":1}\n\n{\"b\":2}\n   \n{\"c\":3}");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].text, "{\"a\":1}");
  EXPECT_EQ(docs[0].line, 1u);
  EXPECT_EQ(docs[1].line, 3u);
  EXPECT_EQ(docs[2].text, "{\"c\":3}");
  EXPECT_EQ(docs[2].line, 5u);
}

TEST(InputReaderTest, CrLfLineEndingsAreTrimmed) {
  auto docs = Frame("{\"a\":1}\r\n{\"b\":2}\r\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "{\"a\":1}");
  EXPECT_EQ(docs[1].text, "{\"b\":2}");
  EXPECT_EQ(docs[1].line, 2u);
}

TEST(InputReaderTest, PrettyPrintedValuesSpanLines) {
  auto docs = Frame("[\n  {\"a\": \"}\"},\n  {\"b\": \"\\\"]\"}\n]\n{\n \"c\": [1,\n 2]\n}\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].line, 1u);
  EXPECT_EQ(docs[0].text.front(), '[');
  EXPECT_EQ(docs[0].text.back(), ']');
  EXPECT_EQ(docs[1].line, 5u);
  EXPECT_EQ(docs[1].text, "{\n \"c\": [1,\n 2]\n}");
}

TEST(InputReaderTest, BrokenLineInJsonLinesDoesNotSwallowTheNextLines) {
  auto docs = Frame("{\"a\":1}\n{\"truncated\": \"x\n{\"b\":2}\n");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1].text, "{\"truncated\": \"x");
  EXPECT_EQ(docs[1].line, 2u);
  EXPECT_EQ(docs[2].text, "{\"b\":2}");
  EXPECT_EQ(docs[2].line, 3u);
}

// Each framing of `content`, from a mapped file and from a pipe, gives `want` (text, line).
void ExpectFraming(const std::string& content,
                   const std::vector<std::pair<std::string, uint64_t>>& want) {
  for (const auto& [how, docs] :
       {std::pair{"file", Frame(content)}, std::pair{"pipe", FramePipe(content)}}) {
    SCOPED_TRACE(how);
    ASSERT_EQ(docs.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(docs[i].text, want[i].first) << "document " << i;
      EXPECT_EQ(docs[i].line, want[i].second) << "document " << i;
      EXPECT_TRUE(docs[i].error.empty());
    }
  }
}

TEST(InputReaderTest, TruncatedFirstLineDoesNotSwallowTheRecordsAfterIt) {
  // Cut inside a string: JSON strings cannot hold a line break.
  ExpectFraming("{\"a\": {\"b\": \"x\n{\"c\":1}\n\n{\"d\":2}\n",
                {{"{\"a\": {\"b\": \"x", 1}, {"{\"c\":1}", 2}, {"{\"d\":2}", 4}});
  // Cut between values: the next line is a complete object followed by another one...
  ExpectFraming("{\"a\": {\"b\": 1,\r\n{\"c\":1}\n{\"d\":2}\n",
                {{"{\"a\": {\"b\": 1,", 1}, {"{\"c\":1}", 2}, {"{\"d\":2}", 3}});
  // ... or by the end of the input.
  ExpectFraming("{\"a\": [\n{\"c\":1}\n", {{"{\"a\": [", 1}, {"{\"c\":1}", 2}});
  // A truncated pretty-printed value before another one.
  ExpectFraming("{\n  \"a\": \"tru\n{\n  \"b\": 1\n}\n",
                {{"{\n  \"a\": \"tru", 1}, {"{\n  \"b\": 1\n}", 3}});
}

TEST(InputReaderTest, ObjectsOnLinesOfTheirOwnInsideAValueAreElements) {
  // An element on a line of its own is followed by `,`, `]` or `}`: the value goes on.
  ExpectFraming("[\n{\"a\":1},\n{\"b\":2}\n]\n", {{"[\n{\"a\":1},\n{\"b\":2}\n]", 1}});
  ExpectFraming("{\"Records\": [\n{\"a\":1}\n]}\n{\"x\":2}\n",
                {{"{\"Records\": [\n{\"a\":1}\n]}", 1}, {"{\"x\":2}", 4}});
  ExpectFraming("{\"k\":\n{\"a\":1}\n}\n", {{"{\"k\":\n{\"a\":1}\n}", 1}});
}

TEST(InputReaderTest, NonJsonLineIsHandedOnForTheDecoderToReport) {
  auto docs = Frame("hello world\n{\"a\":1}\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "hello world");
  EXPECT_EQ(docs[1].line, 2u);
}

TEST(InputReaderTest, TruncatedMultiLineDocumentAtEndOfInput) {
  auto docs = Frame("{\n  \"a\": [1, 2,\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].line, 1u);
  EXPECT_TRUE(docs[0].error.empty());
  EXPECT_EQ(docs[0].text, "{\n  \"a\": [1, 2,\n");
}

TEST(InputReaderTest, DocumentsLargerThanTheInitialBufferAreReadWhole) {
  std::string big = "{\"k\":\"" + std::string(3 << 20, 'x') + "\"}";
  auto docs = Frame("{\"a\":1}\n" + big + "\n{\"b\":2}\n", 8 << 20);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1].text.size(), big.size());
  EXPECT_EQ(docs[1].line, 2u);
  EXPECT_EQ(docs[2].line, 3u);
}

TEST(InputReaderTest, OverlongLineIsReportedAndSkipped) {
  std::string big = "{\"k\":\"" + std::string(5 << 20, 'x') + "\"}";
  auto docs = Frame("{\"a\":1}\n" + big + "\n{\"b\":2}\n", 1 << 20);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_TRUE(docs[1].text.empty());
  EXPECT_NE(docs[1].error.find("limit"), std::string::npos);
  EXPECT_EQ(docs[1].line, 2u);
  EXPECT_EQ(docs[2].text, "{\"b\":2}");
  EXPECT_EQ(docs[2].line, 3u);
}

TEST(InputReaderTest, OverlargeMultiLineDocumentIsReportedAndSkipped) {
  std::string big = "[\n";
  for (int i = 0; i < 100000; ++i) big += "  {\"n\": \"" + std::string(40, 'y') + "\"},\n";
  big += "  {}\n]\n";
  auto docs = Frame(big + "{\n\"after\": 1\n}\n", 1 << 20);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_FALSE(docs[0].error.empty());
  EXPECT_EQ(docs[0].line, 1u);
  EXPECT_EQ(docs[1].text, "{\n\"after\": 1\n}");
  EXPECT_EQ(docs[1].line, 100004u);
}

// Regression: a pipe's first read that holds a whole document above the limit handed it out (only
// mapped files were checked). Lines and values spanning lines, from a pipe and from a file.
TEST(InputReaderTest, DocumentAboveTheLimitInOneReadIsRefusedFromAPipeToo) {
  const std::string big_line = "{\"k\":\"" + std::string(300, 'x') + "\"}";
  const std::string big_value = "[\n  {\"k\": \"" + std::string(300, 'y') + "\"}\n]";
  const std::string lines = "{\"a\":1}\n" + big_line + "\n{\"b\":2}\n";
  const std::string values = "{\n \"c\": 3\n}\n" + big_value + "\n{\n \"d\": 4\n}\n";
  for (const auto& [how, docs] :
       {std::pair{"file", Frame(lines, 256)}, std::pair{"pipe", FramePipe(lines, 256)}}) {
    SCOPED_TRACE(how);
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(docs[0].text, "{\"a\":1}");
    EXPECT_TRUE(docs[1].text.empty());
    EXPECT_NE(docs[1].error.find("256-byte limit"), std::string::npos) << docs[1].error;
    EXPECT_EQ(docs[1].line, 2u);
    EXPECT_EQ(docs[2].text, "{\"b\":2}");
    EXPECT_EQ(docs[2].line, 3u);
  }
  for (const auto& [how, docs] :
       {std::pair{"file", Frame(values, 256)}, std::pair{"pipe", FramePipe(values, 256)}}) {
    SCOPED_TRACE(how);
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(docs[0].text, "{\n \"c\": 3\n}");
    EXPECT_TRUE(docs[1].text.empty());
    EXPECT_NE(docs[1].error.find("256-byte limit"), std::string::npos) << docs[1].error;
    EXPECT_EQ(docs[1].line, 4u);
    EXPECT_EQ(docs[2].text, "{\n \"d\": 4\n}");
    EXPECT_EQ(docs[2].line, 7u);
  }
  // A document of exactly the limit is handed out.
  const std::string exact = "{\"k\":\"" + std::string(256 - 8, 'z') + "\"}";
  ASSERT_EQ(exact.size(), 256u);
  auto docs = FramePipe(exact + "\n", 256);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, exact);
}

// Found by tests/fuzz/input_reader_fuzz.cc: from a pipe, a value spanning lines that passed the
// limit before the end of what was read, and never closed, left its last lines to be framed as a
// document of their own (a fragment of the skipped value, decoded as a record), and the limit was
// checked before a line break could tell the value was cut there. A pipe frames as a file does.
TEST(InputReaderTest, ValueAboveTheLimitIsFramedFromAPipeAsFromAFile) {
  std::string fuzzed;
  {
    std::ifstream in(
        std::string(CHIPWATCH_TEST_DATA) + "/fuzz-regressions/replay/oversize-value-tail.json",
        std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    fuzzed = ss.str();
  }
  ASSERT_GT(fuzzed.size(), 4096u);
  // Never closed, its last line not a whole object: skipped whole.
  for (const auto& [how, docs] :
       {std::pair{"file", Frame(fuzzed, 4096)}, std::pair{"pipe", FramePipe(fuzzed, 4096)}}) {
    SCOPED_TRACE(how);
    ASSERT_EQ(docs.size(), 1u) << docs.back().line << ": " << docs.back().text.substr(0, 60);
    EXPECT_NE(docs[0].error.find("4096-byte limit"), std::string::npos) << docs[0].error;
    EXPECT_EQ(docs[0].line, 1u);
  }
  // Cut short before a whole object on the last line: the value is too large, the object after
  // it is a record.
  std::string value = "[\n";
  for (int i = 0; i < 200; ++i) value += "  {\"n\": \"" + std::string(20, 'y') + "\"},\n";
  const std::string last = "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\"}";
  value += last + "\n";
  for (const auto& [how, docs] :
       {std::pair{"file", Frame(value, 4096)}, std::pair{"pipe", FramePipe(value, 4096)}}) {
    SCOPED_TRACE(how);
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_NE(docs[0].error.find("4096-byte limit"), std::string::npos) << docs[0].error;
    EXPECT_EQ(docs[1].text, last);
    EXPECT_EQ(docs[1].line, 202u);
  }
}

// Found by fuzz_input_reader in an hour-long run: among pretty-printed values, a line above the
// limit that opens a small value and goes on after it (`{...},{...`). A mapped file framed the
// value and the rest; a pipe, reading the line in parts, reported the whole line as too long.
TEST(InputReaderTest, LongLineOpeningASmallValueIsFramedFromAPipeAsFromAFile) {
  const std::string value = "{\"kind\":\"Event\",\"note\":\"" + std::string(2000, 'x') + "\"}";
  const std::string rest = ",{\"eventVersion\":\"" + std::string(3000, 'y') + "\"";
  const std::string input = "{\n  \"a\": 1\n}\n" + value + rest;  // no newline at the end
  ASSERT_GT(value.size() + rest.size(), 4096u);
  const auto file = ExpectPipeFramesAsFile(input);
  ASSERT_EQ(file.size(), 3u);
  EXPECT_EQ(file[1].text, value);
  EXPECT_EQ(file[1].line, 4u);
  ExpectPipeFramesAsFile(FuzzRegression("long-line-value-then-more.json"));
}

// Found by fuzz_input_reader in a second hour-long run: the same shape as the input's first
// document, with text after the value (`{...},"k":...`, one 4,151-byte line, no newline). The
// framing mode was still undecided, and a mapped file, which had the whole line, scanned the value
// while a pipe, without the line's end yet, skipped the line as too long. Now a line over the limit
// that opens a value is scanned as a value in every mode but JSON Lines, decided by the length
// alone, which both know.
TEST(InputReaderTest, FirstLongLineOpeningAValueIsFramedFromAPipeAsFromAFile) {
  const std::string value =
      "{\"eventVersion\":\"1.09\",\"note\":\"" + std::string(3000, 'x') + "\"}";
  const std::string rest = ",\"eventTime\":\"" + std::string(2000, 'y') + "\"";
  for (const std::string& input : {value + rest, value + rest + "\n{\"a\":1}\n",
                                   value + std::string(2000, ' ') + "\n{\"a\":1}\n"}) {
    ASSERT_GT(input.find('\n') == std::string::npos ? input.size() : input.find('\n'), 4096u);
    const auto file = ExpectPipeFramesAsFile(input);
    ASSERT_GE(file.size(), 2u);
    EXPECT_EQ(file[0].text, value);
  }
  const std::string fuzzed = FuzzRegression("first-long-line-value-then-text.json");
  ASSERT_GT(fuzzed.size(), 4096u);
  ExpectPipeFramesAsFile(fuzzed);
}

TEST(InputReaderTest, CompressedInputIsAnErrorThatNamesTheCompression) {
  const std::pair<std::string, std::string> cases[] = {
      {std::string("\x1f\x8b\x08\x00\x00\x00", 6), "gzip-compressed"},
      {std::string("\x28\xb5\x2f\xfd\x00\x58", 6), "zstd-compressed"},
      {std::string("\xfd\x37\x7a\x58\x5a\x00\x00", 7), "xz-compressed"},
      {"BZh91AY&SY", "bzip2-compressed"}};
  for (const auto& [bytes, name] : cases) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(write(fds[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fds[1]);
    InputReader reader(fds[0], true, 1 << 20);
    InputDocument doc;
    EXPECT_FALSE(reader.Next(doc)) << name;
    EXPECT_NE(reader.status().message().find(name), std::string::npos) << reader.status().message();
  }
  // Text that merely starts like a bzip2 header is framed for the decoder to report.
  auto docs = FramePipe("BZh is not JSON\n{\"a\":1}\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "BZh is not JSON");
}

TEST(InputReaderTest, MissingFileIsAnError) {
  auto reader = InputReader::Open("/nonexistent/chipwatch/input.json", 1 << 20);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("/nonexistent/chipwatch/input.json"), std::string::npos);
}

}  // namespace
}  // namespace chipwatch
