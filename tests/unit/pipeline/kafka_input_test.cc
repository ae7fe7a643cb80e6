// KafkaInput and Delivery without a broker: offsets are stored only once every alert of a message
// (and of every message before it) is acknowledged, per partition; refused alerts go to the dead
// letter or stop the daemon uncommitted; backpressure pauses and resumes consumption.
#include "pipeline/kafka_input.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace chipwatch::testing {
namespace {

using Mode = FakeSink::Mode;

std::vector<std::unique_ptr<FakeSink>> Sinks(Mode a, Mode b) {
  std::vector<std::unique_ptr<FakeSink>> sinks;
  sinks.push_back(std::make_unique<FakeSink>("fake:a", a));
  sinks.push_back(std::make_unique<FakeSink>("fake:b", b));
  return sinks;
}

class KafkaInputTest : public ::testing::Test, public PipelineHarness {
 protected:
  // One idle turn of the poll loop (nothing to consume): stores what became committable.
  void Idle() { ASSERT_TRUE(input_->PollOnce()); }
};

TEST_F(KafkaInputTest, OffsetStoredOnlyAfterEveryAlertOfTheMessageIsAcknowledged) {
  Build(Sinks(Mode::kHold, Mode::kHold), nullptr);
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, Launch("e-0"));    // one alert, to each of the two sinks
  consumer_->Produce("audit", 0, Describe("e-1"));  // no alert: done at once, but after e-0
  PollAll();
  RunWorkers();
  ASSERT_EQ(sinks_[0]->records().size(), 1u);
  ASSERT_EQ(sinks_[1]->records().size(), 1u);
  EXPECT_EQ(sinks_[0]->records()[0].key, "e-0");
  EXPECT_NE(sinks_[0]->records()[0].value.find(R"("rule_id":"T-1")"), std::string::npos);
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), -1) << "nothing acknowledged yet";
  EXPECT_EQ(input_->in_flight(), 1u);
  ASSERT_TRUE(sinks_[0]->AckNext());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), -1) << "one sink of two acknowledged";
  ASSERT_TRUE(sinks_[1]->AckNext());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 2) << "both messages done: next offset 2";
  EXPECT_EQ(input_->in_flight(), 0u);
  // Caught up and everything acknowledged: committed at once (after the idle commit interval).
  const int commits = consumer_->commits();
  clock_.Advance(std::chrono::milliseconds(100));
  Idle();
  EXPECT_EQ(consumer_->commits(), commits + 1);
}

TEST_F(KafkaInputTest, CompletionIsAccountedPerPartition) {
  Build(Sinks(Mode::kHold, Mode::kAck), nullptr);
  consumer_->Assign({{"audit", 0}, {"audit", 1}});
  consumer_->Produce("audit", 0, Launch("p0-0"));
  consumer_->Produce("audit", 1, Launch("p1-0"));
  consumer_->Produce("audit", 0, Describe("p0-1"));
  consumer_->Produce("audit", 1, Describe("p1-1"));
  PollAll();
  RunWorkers();
  ASSERT_EQ(sinks_[0]->records().size(), 2u);
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), -1);
  EXPECT_EQ(consumer_->stored("audit", 1), -1);
  ASSERT_TRUE(sinks_[0]->AckNext());  // p0-0's alert
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 2);
  EXPECT_EQ(consumer_->stored("audit", 1), -1) << "partition 1 still waits for p1-0";
  ASSERT_TRUE(sinks_[0]->AckNext());  // p1-0's alert
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 1), 2);
}

TEST_F(KafkaInputTest, RefusedAlertGoesToTheDeadLetterBeforeTheOffsetMoves) {
  Build(Sinks(Mode::kRefuse, Mode::kAck), std::make_unique<FakeSink>("fake:dlq", Mode::kHold));
  consumer_->Assign({{"audit", 3}});
  consumer_->Produce("audit", 3, Launch("e-0"));
  PollAll();
  RunWorkers();
  ASSERT_EQ(dead_letter_->records().size(), 1u);
  const std::vector<SinkRecord> dead_letters = dead_letter_->records();
  const SinkRecord& dl = dead_letters[0];
  EXPECT_EQ(dl.key, "e-0");
  EXPECT_EQ(dl.value, sinks_[0]->records()[0].value) << "the alert JSON, as refused";
  EXPECT_EQ(HeaderValue(dl, "chipwatch.reason"), "sink_rejected");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.sink"), "fake:a");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.error"), "Broker: Message size too large");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.source.topic"), "audit");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.source.partition"), "3");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.source.offset"), "0");
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 3), -1) << "the dead letter has not acknowledged yet";
  ASSERT_TRUE(dead_letter_->AckNext());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 3), 1);
  EXPECT_FALSE(control_.failed.load());
  EXPECT_FALSE(control_.stop.load());
  EXPECT_EQ(state_->metrics->SinkErrors("fake:a").Value(), 1);
  EXPECT_EQ(state_->metrics->DeadLetters().Value(), 1);
}

TEST_F(KafkaInputTest, RefusedAlertWithoutDeadLetterStopsUncommitted) {
  Build(Sinks(Mode::kAck, Mode::kAck), nullptr);
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, Describe("e-0"));
  consumer_->Produce("audit", 0, Launch("e-1"));
  consumer_->Produce("audit", 0, Describe("e-2"));
  ASSERT_TRUE(input_->PollOnce());
  RunWorkers();
  sinks_[1]->set_mode(Mode::kRefuse);
  PollAll();
  RunWorkers();
  EXPECT_TRUE(control_.failed.load());
  EXPECT_TRUE(control_.stop.load());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "committed up to the refused message, not past";
  EXPECT_EQ(input_->in_flight(), 0u) << "a failed message is no longer in flight";
  input_->CommitAndClose();
  EXPECT_EQ(consumer_->stored("audit", 0), 1);
}

TEST_F(KafkaInputTest, DeadLetterRefusingTooStopsUncommitted) {
  Build(Sinks(Mode::kRefuse, Mode::kAck), std::make_unique<FakeSink>("fake:dlq", Mode::kRefuse));
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, Launch("e-0"));
  PollAll();
  RunWorkers();
  EXPECT_EQ(dead_letter_->records().size(), 1u);
  EXPECT_TRUE(control_.failed.load());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), -1);
}

TEST_F(KafkaInputTest, UndecodableMessageGoesToTheDeadLetterWithItsHeaders) {
  Build(Sinks(Mode::kAck, Mode::kAck), std::make_unique<FakeSink>("fake:dlq", Mode::kAck));
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, R"({"eventVersion":"1.08","eventName":)", {{"origin", "x"}});
  PollAll();
  RunWorkers();
  ASSERT_EQ(dead_letter_->records().size(), 1u);
  const std::vector<SinkRecord> dead_letters = dead_letter_->records();
  const SinkRecord& dl = dead_letters[0];
  EXPECT_EQ(dl.value, R"({"eventVersion":"1.08","eventName":)");
  ASSERT_FALSE(dl.headers.empty());
  EXPECT_EQ(dl.headers[0].name, "origin") << "the message's own headers first";
  EXPECT_EQ(HeaderValue(dl, "chipwatch.format"), "cloudtrail");
  EXPECT_EQ(HeaderValue(dl, "chipwatch.failed_records"), "1");
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 1);
  EXPECT_EQ(state_->counters.decode_failures.load(), 1u);
}

TEST_F(KafkaInputTest, PausesWhenTooManyMessagesWaitForAcknowledgementsAndResumes) {
  KafkaInputOptions options;
  options.pause_in_flight = 3;
  options.resume_in_flight = 1;
  Build(Sinks(Mode::kHold, Mode::kAck), nullptr, options);
  consumer_->Assign({{"audit", 0}});
  for (int i = 0; i < 6; ++i) consumer_->Produce("audit", 0, Launch("e-" + std::to_string(i)));
  PollAll();
  EXPECT_TRUE(consumer_->paused());
  EXPECT_TRUE(input_->paused());
  EXPECT_EQ(consumer_->pending(), 3u) << "nothing consumed while paused";
  EXPECT_EQ(state_->metrics->ConsumerPaused("kafka[0]").Value(), 1);
  RunWorkers();
  Idle();
  EXPECT_TRUE(consumer_->paused()) << "3 in flight: still above resume_in_flight";
  ASSERT_TRUE(sinks_[0]->AckNext());
  Idle();
  EXPECT_TRUE(consumer_->paused()) << "2 in flight";
  ASSERT_TRUE(sinks_[0]->AckNext());
  Idle();
  EXPECT_FALSE(consumer_->paused()) << "1 in flight: resumed";
  EXPECT_EQ(state_->metrics->ConsumerPaused("kafka[0]").Value(), 0);
  EXPECT_EQ(consumer_->stored("audit", 0), 2);
  for (int i = 0; i < 10 && (consumer_->pending() > 0 || input_->in_flight() > 0); ++i) {
    PollAll();
    RunWorkers();
    sinks_[0]->AckAll();
    Idle();
  }
  EXPECT_EQ(consumer_->stored("audit", 0), 6) << "nothing dropped";
}

TEST_F(KafkaInputTest, PausesWhenWorkersAreStalledAndResumesWhenTheyTakeMessages) {
  KafkaInputOptions options;
  options.work_queue_high = 2;
  options.poll_timeout = std::chrono::milliseconds(1);  // WaitForRoom's real wait
  Build(Sinks(Mode::kAck, Mode::kAck), nullptr, options);
  consumer_->Assign({{"audit", 0}});
  for (int i = 0; i < 5; ++i) consumer_->Produce("audit", 0, Describe("e-" + std::to_string(i)));
  ASSERT_TRUE(input_->PollOnce());
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_EQ(state_->work.size(), 2u);
  ASSERT_TRUE(input_->PollOnce());  // no room: takes nothing, the workers are busy from now on
  EXPECT_EQ(state_->work.size(), 2u);
  EXPECT_FALSE(consumer_->paused());
  clock_.Advance(std::chrono::milliseconds(1998));  // busy since one poll_timeout before
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_FALSE(consumer_->paused()) << "not yet stalled for 2 s";
  clock_.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_TRUE(consumer_->paused()) << "workers took nothing for 2 s";
  RunWorkers();
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_FALSE(consumer_->paused()) << "workers caught up";
  for (int i = 0; i < 10 && consumer_->pending() > 0; ++i) {
    ASSERT_TRUE(input_->PollOnce());
    RunWorkers();
  }
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 5);
}

TEST_F(KafkaInputTest, RevokeCommitsWhatIsAcknowledgedAndIgnoresLaterAcknowledgements) {
  KafkaInputOptions options;
  options.revoke_wait = std::chrono::milliseconds(1);
  Build(Sinks(Mode::kHold, Mode::kAck), nullptr, options);
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, Describe("e-0"));
  consumer_->Produce("audit", 0, Launch("e-1"));
  PollAll();
  RunWorkers();
  const int commits = consumer_->commits();
  consumer_->Revoke({{"audit", 0}});
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "e-0 done, e-1 still unacknowledged";
  EXPECT_EQ(consumer_->commits(), commits + 1);
  sinks_[0]->AckAll();  // after the revoke: ignored
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 1);
}

TEST_F(KafkaInputTest, FatalConsumerErrorStopsWithFailure) {
  Build(Sinks(Mode::kAck, Mode::kAck), nullptr);
  consumer_->FatalError("authentication error");
  EXPECT_TRUE(control_.failed.load());
  EXPECT_TRUE(control_.stop.load());
}

TEST_F(KafkaInputTest, ReadyOnceAssignedAndHealthyWhilePolling) {
  Build(Sinks(Mode::kAck, Mode::kAck), nullptr);
  EXPECT_FALSE(input_->ready());
  consumer_->Assign({});
  EXPECT_TRUE(input_->ready()) << "joined the group, even with no partition";
  Idle();
  clock_.Advance(std::chrono::seconds(20));
  EXPECT_TRUE(input_->healthy(clock_.Now()));
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_FALSE(input_->healthy(clock_.Now())) << "no poll for over 20 s";
}

}  // namespace
}  // namespace chipwatch::testing
