// TempDir: a fresh directory under /tmp for one test, removed with everything in it afterwards.
// Shared by the unit tests that need real files (policy loading, file sinks, file sources).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace chipwatch::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/chipwatch-test-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    EXPECT_NE(dir, nullptr);
    path_ = dir != nullptr ? dir : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The path of `name` in the directory (not created).
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `text` to `relative` (creating its directories); returns the file's path.
  std::string Write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path p = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace chipwatch::testing
