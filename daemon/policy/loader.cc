#include "policy/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/parallel.h"
#include "policy/collector.h"
#include "policy/reader.h"

namespace chipwatch {

namespace {

namespace fs = std::filesystem;
using policy_internal::RawFile;

bool IsRuleFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// Expands `paths` into files, in load order. Problems go to `diags`.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& paths, Diagnostics& diags) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      diags.Error({path, 0, 0}, DiagCode::kMissingPath, "rules path '" + path + "' does not exist");
      continue;
    }
    if (!fs::is_directory(st)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::pair<std::string, std::string>> found;  // relative, full
    fs::recursive_directory_iterator it(path, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code file_ec;
      if (!it->is_regular_file(file_ec) || !IsRuleFile(it->path())) continue;
      found.emplace_back(it->path().lexically_relative(path).generic_string(), it->path().string());
    }
    if (ec) {
      diags.Error({path, 0, 0}, DiagCode::kIoError,
                  "cannot read directory '" + path + "': " + ec.message());
    }
    std::sort(found.begin(), found.end());
    if (found.empty() && !ec) {
      diags.Warning({path, 0, 0}, DiagCode::kNoRuleFiles,
                    "directory '" + path + "' has no *.yaml files");
    }
    for (auto& f : found) files.push_back(std::move(f.second));
  }
  return files;
}

// One rule file's text, and what parsing it gave.
struct SourceFile {
  std::string name;
  std::string text;
  bool read = true;  // false: the file could not be read (reported in diags)
  Diagnostics diags;
  RawFile raw;
};

// Parses the files concurrently (the largest first), each into its own RawFile and Diagnostics,
// then reports their diagnostics and collects their definitions in file order.
std::unique_ptr<PolicyDefinitions> ParseAndCollect(std::vector<SourceFile> files,
                                                   const LoadOptions& options, Diagnostics& diags) {
  std::vector<size_t> by_size;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].read) by_size.push_back(i);
  }
  std::stable_sort(by_size.begin(), by_size.end(), [&files](size_t a, size_t b) {
    return files[a].text.size() > files[b].text.size();
  });
  RunConcurrently(by_size.size(), [&](size_t i) {
    SourceFile& file = files[by_size[i]];
    file.raw = policy_internal::ReadPolicyFile(file.name, file.text, file.diags);
    file.text = std::string();
  });
  std::vector<RawFile> raw;
  for (SourceFile& file : files) {
    diags.Append(file.diags);
    if (file.read) raw.push_back(std::move(file.raw));
  }
  return policy_internal::Collect(std::move(raw), options, diags);
}

}  // namespace

std::unique_ptr<PolicyDefinitions> LoadDefinitions(const std::vector<std::string>& paths,
                                                   Diagnostics& diags, const LoadOptions& options) {
  std::vector<SourceFile> files;
  for (auto& name : ExpandPaths(paths, diags)) {
    SourceFile& file = files.emplace_back();
    file.name = std::move(name);
    std::ifstream in(file.name, std::ios::binary);
    std::stringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
      file.diags.Error({file.name, 0, 0}, DiagCode::kIoError, "cannot read '" + file.name + "'");
      file.read = false;
      continue;
    }
    file.text = std::move(text).str();
  }
  return ParseAndCollect(std::move(files), options, diags);
}

std::unique_ptr<PolicyDefinitions> LoadDefinitionsFromStrings(
    const std::vector<std::pair<std::string, std::string>>& files, Diagnostics& diags,
    const LoadOptions& options) {
  std::vector<SourceFile> sources(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    sources[i].name = files[i].first;
    sources[i].text = files[i].second;
  }
  return ParseAndCollect(std::move(sources), options, diags);
}

}  // namespace chipwatch
