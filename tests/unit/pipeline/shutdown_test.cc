// Shutdown without a broker: it drains what was consumed, delivers it, commits it and exits 0; a
// failure exits 1 without committing past the refused message; a time-out commits only what was
// acknowledged.
#include "pipeline/shutdown.h"

#include <gtest/gtest.h>

#include "app/commands.h"
#include "fakes.h"

namespace chipwatch::testing {
namespace {

using Mode = FakeSink::Mode;

class ShutdownTest : public ::testing::Test, public PipelineHarness {
 protected:
  void BuildWith(Mode mode, std::unique_ptr<FakeSink> dead_letter = nullptr) {
    std::vector<std::unique_ptr<FakeSink>> sinks;
    sinks.push_back(std::make_unique<FakeSink>("fake:a", mode));
    KafkaInputOptions options;
    options.revoke_wait = std::chrono::milliseconds(10);  // the final revoke inside Close()
    Build(std::move(sinks), std::move(dead_letter), options);
    consumer_->Assign({{"audit", 0}});
  }
  void StartWorkers(int n) {
    for (int i = 0; i < n; ++i) {
      state_->workers.emplace_back(RunWorker, state_->context(), std::ref(state_->work),
                                   state_->decoder_options);
    }
  }
};

TEST_F(ShutdownTest, DrainsDeliversCommitsAndExitsZero) {
  BuildWith(Mode::kAck);
  for (int i = 0; i < 50; ++i) consumer_->Produce("audit", 0, Launch("e-" + std::to_string(i)));
  PollAll();
  ASSERT_EQ(state_->work.size(), 50u) << "consumed, not yet processed";
  StartWorkers(2);
  control_.stop.store(true);  // SIGTERM
  EXPECT_EQ(Shutdown(*state_, std::chrono::seconds(5)), kExitOk);
  EXPECT_EQ(sinks_[0]->records().size(), 50u) << "every consumed message was processed";
  EXPECT_EQ(consumer_->stored("audit", 0), 50);
  EXPECT_GE(consumer_->commits(), 1);
  EXPECT_TRUE(consumer_->closed());
  EXPECT_EQ(state_->metrics->Ready().Value(), 0);
}

TEST_F(ShutdownTest, TimeoutCommitsOnlyWhatWasAcknowledged) {
  BuildWith(Mode::kAck);
  consumer_->Produce("audit", 0, Launch("e-0"));
  consumer_->Produce("audit", 0, Launch("e-1"));
  ASSERT_TRUE(input_->PollOnce());
  RunWorkers();
  sinks_[0]->set_mode(Mode::kHold);
  PollAll();
  StartWorkers(1);
  control_.stop.store(true);
  EXPECT_EQ(Shutdown(*state_, std::chrono::seconds(0)), kExitOk);
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "e-1's alert is not acknowledged";
  EXPECT_TRUE(consumer_->closed());
}

TEST_F(ShutdownTest, RefusedAlertExitsOneWithoutCommittingPastIt) {
  BuildWith(Mode::kAck);
  consumer_->Produce("audit", 0, Launch("e-0"));
  consumer_->Produce("audit", 0, Launch("e-1"));
  consumer_->Produce("audit", 0, Launch("e-2"));
  ASSERT_TRUE(input_->PollOnce());
  RunWorkers();
  sinks_[0]->set_mode(Mode::kRefuse);
  ASSERT_TRUE(input_->PollOnce());
  RunWorkers();
  sinks_[0]->set_mode(Mode::kAck);
  PollAll();
  StartWorkers(1);
  EXPECT_TRUE(control_.stop.load()) << "the refusal stops the daemon";
  EXPECT_EQ(Shutdown(*state_, std::chrono::seconds(5)), kExitFailure);
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "never committed past e-1";
}

}  // namespace
}  // namespace chipwatch::testing
