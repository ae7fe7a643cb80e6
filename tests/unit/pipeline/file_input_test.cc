// FileInput without a daemon: every line goes through the same worker stage as a Kafka message,
// and the checkpoint moves only past lines whose alerts are all acknowledged.
#include "pipeline/file_input.h"

#include <gtest/gtest.h>

#include "../common/temp_dir.h"
#include "fakes.h"

namespace chipwatch::testing {
namespace {

class FileInputTest : public ::testing::Test, public PipelineHarness {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<FakeSink>> sinks;
    sinks.push_back(std::make_unique<FakeSink>("fake:a", FakeSink::Mode::kHold));
    Build(std::move(sinks), nullptr);
    config_.path.path =
        dir_.Write("audit.jsonl", Launch("a") + "\n" + Describe("b") + "\n" + Launch("c") + "\n");
    config_.format = Format::kCloudTrail;
    config_.checkpoint = ConfigPath{dir_.File("audit.checkpoint"), {}};
  }

  std::unique_ptr<FileInput> Open() {
    auto checkpoint = std::make_unique<FileCheckpoint>(config_.checkpoint->path, config_.path.path);
    auto follower = FileFollower::Open(config_, 1 << 20);
    EXPECT_TRUE(follower.ok());
    return std::make_unique<FileInput>(config_, "file[0]", std::move(follower.value()),
                                       std::move(checkpoint), state_->context(),
                                       state_->decoder_options);
  }
  std::optional<FilePosition> Saved() {
    auto saved = FileCheckpoint(config_.checkpoint->path, config_.path.path).Load();
    EXPECT_TRUE(saved.ok());
    return saved.ok() ? saved.value() : std::nullopt;
  }

  TempDir dir_;
  FileSourceConfig config_;
};

TEST_F(FileInputTest, CheckpointMovesOnlyPastAcknowledgedLines) {
  std::unique_ptr<FileInput> input = Open();
  input->Run();  // not following: returns at the end of the file
  EXPECT_TRUE(input->finished());
  ASSERT_EQ(sinks_[0]->records().size(), 2u);
  EXPECT_FALSE(Saved().has_value()) << "line 1's alert is not acknowledged";
  ASSERT_TRUE(sinks_[0]->AckNext());  // line 1 (a); line 2 had no alert
  input->SavePosition();
  ASSERT_TRUE(Saved().has_value());
  EXPECT_EQ(Saved()->line, 3u) << "resumes at line 3, whose alert is still unacknowledged";
  ASSERT_TRUE(sinks_[0]->AckNext());
  input->SavePosition();
  EXPECT_EQ(Saved()->line, 4u);
  EXPECT_EQ(state_->metrics->Messages("file[0]").Value(), 3);
  EXPECT_EQ(state_->metrics->Events("file[0]", "cloudtrail").Value(), 3);
  EXPECT_FALSE(control_.failed.load());
}

TEST_F(FileInputTest, RefusedAlertStopsAndTheCheckpointStaysBeforeIt) {
  sinks_[0]->set_mode(FakeSink::Mode::kRefuse);
  std::unique_ptr<FileInput> input = Open();
  input->Run();
  EXPECT_TRUE(control_.failed.load());
  input->SavePosition();
  EXPECT_FALSE(Saved().has_value()) << "line 1 was refused: never checkpointed past";
}

}  // namespace
}  // namespace chipwatch::testing
