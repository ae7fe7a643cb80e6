#include "pipeline/file_input.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "metrics/metrics.h"

namespace chipwatch {

FileInput::FileInput(const FileSourceConfig& config, std::string label,
                     std::unique_ptr<FileFollower> follower,
                     std::unique_ptr<FileCheckpoint> checkpoint, const StageContext& context,
                     DecoderOptions decoder_options, FileInputOptions options)
    : config_(config),
      label_(std::move(label)),
      follower_(std::move(follower)),
      checkpoint_(std::move(checkpoint)),
      context_(context),
      decoder_options_(decoder_options),
      options_(options),
      messages_(context.metrics->Messages(label_)),
      events_(context.metrics->Events(label_, FormatName(config.format))),
      route_(config.path.path, context) {}

void FileInput::Start() {
  thread_ = std::thread([this] { Run(); });
}

void FileInput::Wake() { follower_->Wake(); }

void FileInput::Join() {
  if (thread_.joinable()) thread_.join();
}

bool FileInput::finished() const { return follower_->done(); }

void FileInput::Run() {
  Worker worker(context_, decoder_options_);
  FileFollower::Line line;
  const Clock& clock = *context_.clock;
  auto last_save = clock.Now();
  while (!context_.control->stopping()) {
    // The checkpoint moves at most once a second, and when the file is idle.
    if (checkpoint_ != nullptr && clock.Now() - last_save >= options_.checkpoint_interval) {
      SaveCheckpoint();
      last_save = clock.Now();
    }
    if (follower_->Next(line, options_.poll_timeout)) {
      Handle(line, worker);
      continue;
    }
    if (checkpoint_ != nullptr) {
      SaveCheckpoint();
      last_save = clock.Now();
    }
    CheckIdle();
    if (follower_->done()) {
      if (!follower_->status().ok()) {
        // The file cannot be read any more: stop loudly, with its checkpoint saved above.
        spdlog::critical("file {}: {}", config_.path.path, follower_->status().message());
        context_.control->StopFailed();
      }
      break;
    }
  }
}

void FileInput::Handle(const FileFollower::Line& line, Worker& worker) {
  WorkerInput input;
  input.completion = std::make_shared<Completion>();
  if (checkpoint_ != nullptr) {
    input.completion->tracker = &checkpoint_->tracker();
    input.completion->ticket = checkpoint_->Begin(line.next);
  }
  input.completion->source = SourcePosition{config_.path.path, -1, static_cast<int64_t>(line.line)};
  input.origin.file = config_.path.path;
  input.origin.line = line.line;
  input.origin.read_time_ms = WallClockMs();
  input.text = line.text;
  input.capacity = line.capacity;
  input.format = config_.format;
  input.framing_error = line.error;
  input.messages = &messages_;
  input.events = &events_;
  input.snapshot = context_.snapshots->Current();
  if (!input.snapshot->policy->stateful->empty() || route_.active()) {
    route_.Route(*input.snapshot, context_.clock->Now(), input.lane, input.seq);
  }
  worker.Handle(input);
}

// Idle for state.idle_flush: the lane's windows flushed, on this thread.
void FileInput::CheckIdle() {
  std::shared_ptr<StatefulLane> lane;
  uint64_t seq = 0;
  if (route_.TakeIdleFlush(context_.clock->Now(), lane, seq)) lane->Mark(seq, LaneMark::kFlush);
}

// The end of the input (shutdown, or the file read to its end): the windows' summaries.
void FileInput::FlushState() { route_.Finish(/*flush=*/true); }

void FileInput::SaveCheckpoint() {
  Status st = checkpoint_->Save();
  if (st.ok()) {
    if (!checkpoint_error_.empty()) {
      spdlog::info("{}: the checkpoint is written again", checkpoint_->path());
    }
    checkpoint_error_.clear();
  } else if (st.message() != checkpoint_error_) {
    spdlog::error("{}", st.message());
    checkpoint_error_ = st.message();
  }
}

// File sources: the position after the last line whose alerts were all acknowledged.
void FileInput::SavePosition() {
  if (checkpoint_ == nullptr) return;
  Status st = checkpoint_->Save();
  if (!st.ok()) spdlog::error("final checkpoint: {}", st.message());
  if (checkpoint_->in_flight() > 0) {
    spdlog::warn("{}: {} lines unacknowledged at shutdown; they will be read again after restart",
                 checkpoint_->path(), checkpoint_->in_flight());
  }
}

}  // namespace chipwatch
