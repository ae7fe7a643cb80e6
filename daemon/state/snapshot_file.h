// The state snapshot file (docs/stateful.md, "Persistence"): the source positions a state
// reflects and the saved state of every correlation and suppression, in one file replaced
// atomically, so that after kill -9 a restart resumes from a consistent pair of (positions, state).
//
// Layout, little-endian:
//   header   8 bytes magic "CWSTATE\0", u32 version (1), u32 flags (0), u64 content length
//   content  varint count, then per position: string source, i64 next
//            string source data (opaque)
//            varint count, then per section: string name, string fingerprint, string data
//   trailer  u32 CRC-32C of the header and the content
// (string: varint length, then the bytes). cw_state gives the positions and the source data no
// meaning: the pipeline stores what it resumes from (e.g. "topic/partition" -> next offset, or a
// file checkpoint). A section is one correlation's or rule's state (CorrelationState::Save,
// SuppressionState::Save) under its id, with the fingerprint of the definition it was saved for:
// a section whose fingerprint is not the current definition's is dropped by the caller (Matching).
//
// Writing goes to `<path>.tmp` in the same directory, which is fsynced, renamed over `path`, and
// the directory fsynced: a crash at any point leaves either the old file or the new one, complete.
// Reading checks the magic, the version, the length and the checksum before anything is parsed;
// every problem is an error naming the path and what is wrong.
//
// Thread contract: plain functions and values; one writer per path at a time (the `.tmp` name is
// fixed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace chipwatch {

// Where a source resumes: opaque to cw_state (e.g. {"cloudtrail/3", 1842} for a partition).
struct SnapshotPosition {
  std::string source;
  int64_t next = 0;

  bool operator==(const SnapshotPosition&) const = default;
};

struct StateSection {
  std::string name;         // the correlation's or the rule's id; unique in a snapshot
  std::string fingerprint;  // the canonical form of the definition the state was saved for
  std::string_view data;    // the saved state: the caller's bytes when writing; when read, a view
                            // into StateSnapshot::storage
};

struct StateSnapshot {
  std::vector<SnapshotPosition> positions;
  std::string source_data;  // anything else the pipeline resumes from; opaque
  std::vector<StateSection> sections;
  // A snapshot that was read holds the file's bytes here; its sections' data point into them (so
  // copies of the snapshot share them and stay valid).
  std::shared_ptr<const std::string> storage;

  // The section named `name`, or null.
  const StateSection* Find(std::string_view name) const;
  // The data of section `name` when it was saved for the definition whose fingerprint is
  // `fingerprint`; nullopt when there is no such section or its definition changed (then the
  // state starts empty: that is the reload rule for changed definitions).
  std::optional<std::string_view> Matching(std::string_view name,
                                           std::string_view fingerprint) const;
};

inline constexpr uint32_t kStateSnapshotVersion = 1;

// Writes `snapshot` to `path` atomically (see above). Section names must be unique. On error the
// file at `path`, if any, is untouched, and the message names the path, the step and the reason.
Status WriteStateSnapshot(const std::string& path, const StateSnapshot& snapshot);

// Reads the snapshot at `path`. NotFound when there is no file (a first start); ParseError for a
// file that is not a snapshot, of another version, truncated, or whose checksum or content is bad;
// IoError when it cannot be read.
Result<StateSnapshot> ReadStateSnapshot(const std::string& path);

// The file's bytes, in memory (what WriteStateSnapshot writes); and back, with `origin` (a path,
// or a name) at the start of every error message.
std::string EncodeStateSnapshot(const StateSnapshot& snapshot);
Result<StateSnapshot> DecodeStateSnapshot(std::string bytes, std::string_view origin);

}  // namespace chipwatch
