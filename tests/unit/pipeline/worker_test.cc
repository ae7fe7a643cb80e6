// The worker stage without a broker: a reload published between two messages applies from the
// next message on (each message is evaluated by exactly one policy); counting is shared by Kafka
// messages and file lines.
#include "pipeline/worker.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace chipwatch::testing {
namespace {

class WorkerTest : public ::testing::Test, public PipelineHarness {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<FakeSink>> sinks;
    sinks.push_back(std::make_unique<FakeSink>("fake:a"));
    Build(std::move(sinks), nullptr);
    consumer_->Assign({{"audit", 0}});
  }
  std::string RuleOf(const SinkRecord& record) {
    const size_t at = record.value.find(R"("rule_id":")");
    if (at == std::string::npos) return "<none>";
    const size_t begin = at + 11;
    return record.value.substr(begin, record.value.find('"', begin) - begin);
  }
};

// A Kafka message is evaluated with the snapshot in force when its poll thread took it (so that a
// partition's messages change policy in offset order, whichever worker takes them), and a file
// line with the one in force when it is read.
TEST_F(WorkerTest, ReloadAppliesBetweenTwoMessages) {
  Worker worker(state_->context(), state_->decoder_options);
  consumer_->Produce("audit", 0, Launch("e-0"));
  PollAll();
  state_->snapshots.Publish(MakeSnapshot("T-2", 2));  // SIGHUP's swap, between two messages
  consumer_->Produce("audit", 0, Launch("e-1"));
  PollAll();
  state_->snapshots.Publish(MakeSnapshot("T-3", 3));
  consumer_->Produce("audit", 0, Launch("e-2"));
  PollAll();
  ASSERT_EQ(state_->work.size(), 3u);
  state_->snapshots.Publish(MakeSnapshot("T-4", 4));  // after they were taken: not theirs
  for (int i = 0; i < 3; ++i) {
    auto item = state_->work.Pop();
    worker.Handle(*item);
  }
  const auto records = sinks_[0]->records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "e-0");
  EXPECT_EQ(RuleOf(records[0]), "T-1");
  EXPECT_EQ(RuleOf(records[1]), "T-2");
  EXPECT_EQ(RuleOf(records[2]), "T-3");
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_EQ(consumer_->stored("audit", 0), 3) << "nothing lost or held by the swaps";
}

TEST_F(WorkerTest, CountsMessagesEventsAndAlerts) {
  consumer_->Produce("audit", 0, Launch("e-0"));
  consumer_->Produce("audit", 0, Describe("e-1"));
  consumer_->Produce("audit", 0, Launch("e-2") + "\n" + Describe("e-3") + "\n");  // batched
  PollAll();
  RunWorkers();
  EXPECT_EQ(state_->counters.messages.load(), 3u);
  EXPECT_EQ(state_->counters.events.load(), 4u);
  EXPECT_EQ(state_->counters.alerts.load(), 2u);
  EXPECT_EQ(state_->metrics->Messages("kafka[0]").Value(), 3);
  EXPECT_EQ(state_->metrics->Events("kafka[0]", "cloudtrail").Value(), 4);
  EXPECT_EQ(state_->metrics->Alerts("T-1", "high").Value(), 2);
  EXPECT_EQ(sinks_[0]->records().size(), 2u);
}

TEST_F(WorkerTest, FramingErrorIsADeadLetterAndNotEvaluated) {
  WorkerInput input;
  input.text = "";
  input.format = Format::kCloudTrail;
  input.origin.file = "/var/log/x.jsonl";
  input.origin.line = 4;
  input.framing_error = "line over max_record_bytes";
  input.completion = std::make_shared<Completion>();
  input.completion->source = SourcePosition{"/var/log/x.jsonl", -1, 4};
  Worker worker(state_->context(), state_->decoder_options);
  worker.Handle(input);
  EXPECT_EQ(state_->counters.decode_failures.load(), 1u);
  EXPECT_EQ(state_->counters.messages.load(), 1u);
  EXPECT_EQ(state_->counters.events.load(), 0u);
}

}  // namespace
}  // namespace chipwatch::testing
