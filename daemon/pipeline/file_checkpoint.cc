#include "pipeline/file_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace chipwatch {

namespace {
constexpr char kMagic[] = "chipwatch-file-checkpoint";
constexpr int kVersion = 1;
// The tracker's only "partition": a file source has one sequence of lines.
const TopicPartition kLines{"lines", 0};
}  // namespace

FileCheckpoint::FileCheckpoint(std::string path, std::string source)
    : path_(std::move(path)), source_(std::move(source)) {
  tracker_.Assign(kLines);
}

Result<std::optional<FilePosition>> FileCheckpoint::Load() const {
  if (::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return std::optional<FilePosition>();
  std::ifstream in(path_);
  if (!in) return Status::IoError(path_ + ": cannot read the checkpoint");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line);
  std::string magic, source;
  int version = 0;
  FilePosition p;
  fields >> magic >> version >> p.dev >> p.inode >> p.offset >> p.line;
  if (!fields || magic != kMagic || version != kVersion || p.line == 0) {
    return Status::ParseError(path_ + ":1: not a chipwatch file checkpoint (version " +
                              std::to_string(kVersion) + "): '" + line.substr(0, 80) + "'");
  }
  std::getline(fields >> std::ws, source);
  if (source != source_) {
    return Status::InvalidArgument(path_ + ":1: the checkpoint is for " + source + ", not for " +
                                   source_);
  }
  return std::optional<FilePosition>(p);
}

OffsetTracker::Ticket FileCheckpoint::Begin(const FilePosition& after) {
  const int64_t seq = next_seq_++;
  after_.emplace_back(seq, after);
  return tracker_.Begin(kLines, seq);
}

Status FileCheckpoint::Save() {
  for (const auto& [tp, next] : tracker_.TakeCommittable()) {
    // Every line before `next` is done: the position after line next - 1.
    while (!after_.empty() && after_.front().first < next) {
      latest_ = after_.front().second;
      after_.pop_front();
    }
  }
  if (!latest_ || latest_ == saved_) return Status::Ok();  // (a failed write is retried)
  const FilePosition& p = *latest_;
  const std::string content = std::string(kMagic) + ' ' + std::to_string(kVersion) + ' ' +
                              std::to_string(p.dev) + ' ' + std::to_string(p.inode) + ' ' +
                              std::to_string(p.offset) + ' ' + std::to_string(p.line) + ' ' +
                              source_ + "\n";
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    return Status::IoError(tmp + ": cannot write the checkpoint: " + std::strerror(errno));
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int e = written ? errno : err;
    ::unlink(tmp.c_str());
    return Status::IoError(path_ + ": cannot write the checkpoint: " + std::strerror(e));
  }
  saved_ = latest_;
  return Status::Ok();
}

}  // namespace chipwatch
