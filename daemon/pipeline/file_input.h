// FileInput: a file source. One thread per configured `type: file` source follows the file (like
// `tail -F`) and runs the worker stage on each line itself.
//
// With a checkpoint, every line is registered with the checkpoint's OffsetTracker before it is
// processed, and the checkpoint file is written (at most once per `checkpoint_interval`, when the
// file is idle, and at shutdown) with the position after the last line whose alerts were all
// acknowledged. A followed file that cannot be read any more stops the daemon with exit status 1.
// While the policy has stateful rules, the lines go through the source's one StatefulLane
// (pipeline/stateful_lane.h) in line order; it is flushed after state.idle_flush without lines and
// at shutdown.
// Thread contract: the loop on the file thread; Wake and the Source queries from any thread;
// SavePosition after Join.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"
#include "pipeline/file_checkpoint.h"
#include "pipeline/source.h"
#include "pipeline/stateful_lane.h"
#include "pipeline/worker.h"
#include "source/file_source.h"

namespace chipwatch {

class Counter;

struct FileInputOptions {
  std::chrono::milliseconds poll_timeout{100};
  // How often the checkpoint is written while lines keep coming.
  std::chrono::milliseconds checkpoint_interval{1000};
};

class FileInput final : public Source {
 public:
  // `checkpoint` may be null (none configured).
  FileInput(const FileSourceConfig& config, std::string label,
            std::unique_ptr<FileFollower> follower, std::unique_ptr<FileCheckpoint> checkpoint,
            const StageContext& context, DecoderOptions decoder_options,
            FileInputOptions options = {});

  // Source
  const std::string& label() const override { return label_; }
  void Start() override;
  void Wake() override;
  void Join() override;
  bool finished() const override;
  void FlushState() override;
  void SavePosition() override;

  // The file thread's body: until the stop flag is set or the file is done.
  void Run();

 private:
  // Handles one line the follower returned.
  void Handle(const FileFollower::Line& line, Worker& worker);
  void CheckIdle();
  // Saves the checkpoint; a failure is logged when its message changes.
  void SaveCheckpoint();

  const FileSourceConfig& config_;
  const std::string label_;
  std::unique_ptr<FileFollower> follower_;
  std::unique_ptr<FileCheckpoint> checkpoint_;
  const StageContext context_;
  const DecoderOptions decoder_options_;
  const FileInputOptions options_;
  Counter& messages_;
  Counter& events_;
  std::thread thread_;
  std::string checkpoint_error_;  // the last failure logged (file thread)
  LaneRoute route_;               // the file thread's; the main thread's after Join
};

}  // namespace chipwatch
