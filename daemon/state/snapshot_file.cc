#include "state/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

#include "state/bytes.h"
#include "state/crc32c.h"

namespace chipwatch {

namespace {

constexpr char kMagic[8] = {'C', 'W', 'S', 'T', 'A', 'T', 'E', '\0'};
constexpr size_t kHeaderBytes = 24;
constexpr size_t kTrailerBytes = 4;
// Pieces at least this large are written straight from the caller's memory, not copied.
constexpr size_t kDirectWrite = 64 * 1024;

size_t StringSize(std::string_view s) { return VarintSize(s.size()) + s.size(); }

size_t ContentSize(const StateSnapshot& s) {
  size_t n =
      VarintSize(s.positions.size()) + StringSize(s.source_data) + VarintSize(s.sections.size());
  for (const SnapshotPosition& p : s.positions) n += StringSize(p.source) + 8;
  for (const StateSection& sec : s.sections) {
    n += StringSize(sec.name) + StringSize(sec.fingerprint) + StringSize(sec.data);
  }
  return n;
}

// Hands the file's bytes but the trailer, in order, to `out` (a callable taking a
// std::string_view, returning false to stop): small pieces gathered in `buf`, large section data
// straight from the caller's memory. Returns false when `out` did.
template <typename Out>
bool Emit(const StateSnapshot& s, std::string& buf, Out&& out) {
  buf.assign(kMagic, sizeof kMagic);
  PutU32(buf, kStateSnapshotVersion);
  PutU32(buf, 0);
  PutU64(buf, ContentSize(s));
  PutVarint(buf, s.positions.size());
  for (const SnapshotPosition& p : s.positions) {
    PutString(buf, p.source);
    PutI64(buf, p.next);
  }
  PutString(buf, s.source_data);
  PutVarint(buf, s.sections.size());
  for (const StateSection& sec : s.sections) {
    PutString(buf, sec.name);
    PutString(buf, sec.fingerprint);
    if (sec.data.size() < kDirectWrite) {
      PutString(buf, sec.data);
      continue;
    }
    PutVarint(buf, sec.data.size());
    if (!out(std::string_view(buf)) || !out(sec.data)) return false;
    buf.clear();
  }
  return buf.empty() || out(std::string_view(buf));
}

Status CheckNames(const StateSnapshot& s) {
  std::set<std::string_view> names;
  for (const StateSection& sec : s.sections) {
    if (!names.insert(sec.name).second) {
      return Status::InvalidArgument("state snapshot: two sections named '" + sec.name + "'");
    }
  }
  return Status::Ok();
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes the whole file to the open `fd` and fsyncs it; false with errno set on failure.
bool WriteFile(int fd, const StateSnapshot& s) {
  std::string buf;
  uint32_t crc = 0;
  const bool written = Emit(s, buf, [&](std::string_view piece) {
    crc = Crc32c(piece, crc);
    return WriteAll(fd, piece);
  });
  if (!written) return false;
  std::string trailer;
  PutU32(trailer, crc);
  return WriteAll(fd, trailer) && ::fsync(fd) == 0;
}

Status WriteError(const std::string& path, const char* step, int err) {
  return Status::IoError(path + ": cannot write the state snapshot: " + step + ": " +
                         std::strerror(err));
}

std::string Hex(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

// The header, the length and the checksum of `b`; what is wrong, or empty.
std::string CheckFrame(std::string_view b) {
  if (b.size() >= sizeof kMagic && std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) {
    return "not a chipwatch state snapshot (bad magic)";
  }
  if (b.size() < kHeaderBytes + kTrailerBytes) {
    return "truncated at byte " + std::to_string(b.size()) + " (a state snapshot has at least " +
           std::to_string(kHeaderBytes + kTrailerBytes) + ")";
  }
  const uint32_t version = LoadU32(b.data() + 8);
  if (version != kStateSnapshotVersion) {
    return "state snapshot version " + std::to_string(version) + ", this build reads version " +
           std::to_string(kStateSnapshotVersion);
  }
  if (const uint32_t flags = LoadU32(b.data() + 12); flags != 0) {
    return "unknown flags " + Hex(flags) + " in the header";
  }
  const auto length = static_cast<uint64_t>(LoadI64(b.data() + 16));
  const uint64_t present = b.size() - kHeaderBytes - kTrailerBytes;
  if (length > present) {
    return "truncated at byte " + std::to_string(b.size()) + " (the header says the content has " +
           std::to_string(length) + " bytes, the file has room for " + std::to_string(present) +
           ")";
  }
  if (length < present) {
    return "unexpected bytes after byte " + std::to_string(length + kHeaderBytes + kTrailerBytes) +
           " (the header says the " + "content has " + std::to_string(length) + " bytes)";
  }
  const uint32_t stored = LoadU32(b.data() + b.size() - kTrailerBytes);
  const uint32_t computed = Crc32c(b.substr(0, b.size() - kTrailerBytes));
  if (stored != computed) {
    return "checksum mismatch (stored " + Hex(stored) + ", computed " + Hex(computed) +
           "): the file is corrupt";
  }
  return {};
}

// Parses the content of a checked frame into `s` (views into `b`); what is wrong, or empty.
std::string ParseContent(std::string_view b, StateSnapshot& s) {
  ByteReader in(b.substr(0, b.size() - kTrailerBytes));
  std::string_view header;
  uint64_t count = 0;
  in.Bytes(kHeaderBytes, header) && in.Varint(count);
  for (uint64_t i = 0; i < count && !in.failed(); ++i) {
    std::string_view source;
    int64_t next = 0;
    if (in.String(source) && in.I64(next)) s.positions.push_back({std::string(source), next});
  }
  std::string_view source_data;
  if (in.String(source_data)) s.source_data = source_data;
  in.Varint(count);
  std::set<std::string_view> names;
  for (uint64_t i = 0; i < count && !in.failed(); ++i) {
    const size_t at = in.pos();
    std::string_view name, fingerprint, data;
    if (!in.String(name) || !in.String(fingerprint) || !in.String(data)) break;
    if (!names.insert(name).second)
      in.Fail(at, "a second section named '" + std::string(name) + "'");
    s.sections.push_back({std::string(name), std::string(fingerprint), data});
  }
  if (!in.failed() && !in.at_end()) in.Fail(in.pos(), "unexpected bytes after the last section");
  return in.failed() ? "corrupt content: " + in.Error() : std::string();
}

}  // namespace

const StateSection* StateSnapshot::Find(std::string_view name) const {
  for (const StateSection& sec : sections) {
    if (sec.name == name) return &sec;
  }
  return nullptr;
}

std::optional<std::string_view> StateSnapshot::Matching(std::string_view name,
                                                        std::string_view fingerprint) const {
  const StateSection* sec = Find(name);
  if (sec == nullptr || sec->fingerprint != fingerprint) return std::nullopt;
  return sec->data;
}

std::string EncodeStateSnapshot(const StateSnapshot& snapshot) {
  std::string out, buf;
  out.reserve(kHeaderBytes + ContentSize(snapshot) + kTrailerBytes);
  (void)Emit(snapshot, buf, [&](std::string_view piece) {
    out.append(piece);
    return true;
  });
  PutU32(out, Crc32c(out));
  return out;
}

Status WriteStateSnapshot(const std::string& path, const StateSnapshot& snapshot) {
  if (Status names = CheckNames(snapshot); !names.ok()) return names;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return WriteError(path, ("creating " + tmp).c_str(), errno);
  bool ok = WriteFile(fd, snapshot);
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return WriteError(path, ("writing " + tmp).c_str(), err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return WriteError(path, ("renaming " + tmp).c_str(), err);
  }
  // The rename is durable only once the directory is.
  const std::string dir = Directory(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return WriteError(path, ("opening the directory " + dir).c_str(), errno);
  const bool synced = ::fsync(dfd) == 0;
  err = errno;
  ::close(dfd);
  if (!synced) return WriteError(path, ("syncing the directory " + dir).c_str(), err);
  return Status::Ok();
}

Result<StateSnapshot> DecodeStateSnapshot(std::string bytes, std::string_view origin) {
  auto storage = std::make_shared<const std::string>(std::move(bytes));
  if (std::string error = CheckFrame(*storage); !error.empty()) {
    return Status::ParseError(std::string(origin) + ": " + error);
  }
  StateSnapshot s;
  if (std::string error = ParseContent(*storage, s); !error.empty()) {
    return Status::ParseError(std::string(origin) + ": " + error);
  }
  s.storage = std::move(storage);
  return s;
}

Result<StateSnapshot> ReadStateSnapshot(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return Status::NotFound(path + ": no state snapshot");
  if (fd < 0) {
    return Status::IoError(path + ": cannot read the state snapshot: " + std::strerror(errno));
  }
  struct stat st {};
  std::string bytes;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) bytes.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (ok && got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    ok = n >= 0;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);  // a file that shrank while it was read is reported as truncated
  const int err = errno;
  ::close(fd);
  if (!ok) return Status::IoError(path + ": cannot read the state snapshot: " + std::strerror(err));
  return DecodeStateSnapshot(std::move(bytes), path);
}

}  // namespace chipwatch
