// The stateful stage in the daemon (pipeline/stateful_lane.h), without a broker: offset order
// restored over workers finishing out of order, correlation and summary alerts acknowledged
// before their message's offset is committed, idle flush on the injected clock, rebalances,
// reloads, metrics, and the direct path of a policy without stateful rules.
#include "pipeline/stateful_lane.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../common/temp_dir.h"
#include "fakes.h"
#include "pipeline/file_input.h"
#include "policy/loader.h"

namespace chipwatch::testing {
namespace {

using Mode = FakeSink::Mode;
using std::chrono::seconds;

// T-1 (launches) suppressed per account for `suppress_for`; C-1 fires at `threshold` launches of
// an account within an hour; D-1 (describes) is a plain rule.
std::string StatefulPolicy(const std::string& suppress_for = "1h", int threshold = 2) {
  return "lists:\n  - {name: launches, items: [RunInstances]}\n"
         "rules:\n"
         "  - id: T-1\n    title: any launch\n    severity: high\n    reason: launch\n"
         "    condition: {in: {field: action, list: launches}}\n"
         "    suppress: {by: [account], for: " +
         suppress_for +
         "}\n"
         "  - id: D-1\n    title: describe\n    severity: low\n    reason: describe\n"
         "    condition: {equals: {field: action, value: DescribeInstances}}\n"
         "correlations:\n"
         "  - id: C-1\n    title: launches\n    severity: critical\n    type: event_count\n"
         "    rules: [T-1]\n    group_by: [account]\n    timespan: 1h\n"
         "    condition: {gte: " +
         std::to_string(threshold) + "}\n";
}

std::string LaunchAt(const std::string& id, const std::string& hhmm) {
  return CloudTrail("RunInstances", id, "2025-06-01T" + hhmm + ":00Z");
}
std::string DescribeAt(const std::string& id, const std::string& hhmm) {
  return CloudTrail("DescribeInstances", id, "2025-06-01T" + hhmm + ":00Z");
}

std::string Field(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return "<none>";
  size_t begin = at + quoted.size();
  if (json[begin] == '"') {
    ++begin;
    return json.substr(begin, json.find('"', begin) - begin);
  }
  return json.substr(begin, json.find_first_of(",}", begin) - begin);
}

// "kind rule_id event_id" per record a sink was given.
std::vector<std::string> Shapes(const FakeSink& sink) {
  std::vector<std::string> out;
  for (const SinkRecord& r : sink.records()) {
    out.push_back(Field(r.value, "kind") + " " + Field(r.value, "rule_id") + " " + r.key);
  }
  return out;
}
using Strings = std::vector<std::string>;

class StatefulLaneTest : public ::testing::Test, public PipelineHarness {
 protected:
  void Start(std::vector<Mode> modes, std::unique_ptr<FakeSink> dead_letter = nullptr,
             const std::string& policy = StatefulPolicy()) {
    std::vector<std::unique_ptr<FakeSink>> sinks;
    for (size_t i = 0; i < modes.size(); ++i) {
      sinks.push_back(std::make_unique<FakeSink>("fake:" + std::to_string(i), modes[i]));
    }
    Build(std::move(sinks), std::move(dead_letter));
    state_->snapshots.Publish(MakePolicySnapshot(policy, ++generation_));
    consumer_->Assign({{"audit", 0}});
  }
  void Publish(const std::string& policy) {
    state_->snapshots.Publish(MakePolicySnapshot(policy, ++generation_));
  }
  // Takes every message the consumer has, and hands them to a worker.
  void Consume() {
    PollAll();
    RunWorkers();
  }
  // A poll turn with nothing to take (stores offsets, checks idle lanes), then the workers take
  // the marks it sent.
  void Idle() {
    ASSERT_EQ(consumer_->pending(), 0u);
    ASSERT_TRUE(input_->PollOnce());
    RunWorkers();
  }
  double Value(Counter& c) { return c.Value(); }

  uint64_t generation_ = 1;
};

TEST_F(StatefulLaneTest, WorkersFinishingOutOfOrderStillDeliverInOffsetOrder) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));  // suppressed; completes C-1
  consumer_->Produce("audit", 0, DescribeAt("e-2", "10:30"));
  consumer_->Produce("audit", 0, LaunchAt("e-3", "11:05"));  // after the window: summary first
  PollAll();
  std::vector<WorkItem> items;
  while (state_->work.size() > 0) items.push_back(std::move(*state_->work.Pop()));
  ASSERT_EQ(items.size(), 4u);
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_NE(items[i].lane, nullptr);
    EXPECT_EQ(items[i].seq, i);
  }
  Worker w1(state_->context(), state_->decoder_options);
  Worker w2(state_->context(), state_->decoder_options);
  w1.Handle(items[3]);
  w2.Handle(items[1]);
  w1.Handle(items[2]);
  EXPECT_TRUE(sinks_[0]->records().empty()) << "waiting for message 0";
  EXPECT_EQ(input_->in_flight(), 4u);
  w2.Handle(items[0]);
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-0", "correlation C-1 e-1", "event D-1 e-2",
                                         "summary T-1 e-1", "event T-1 e-3"}));
  const SinkRecord summary = sinks_[0]->records()[3];
  EXPECT_EQ(Field(summary.value, "count"), "1");
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 4);
  EXPECT_EQ(state_->counters.alerts.load(), 5u) << "counted after the stage";
  EXPECT_EQ(Value(state_->metrics->CorrelationAlerts("C-1")), 1);
  EXPECT_EQ(Value(state_->metrics->Suppressed("T-1")), 1);
  EXPECT_EQ(state_->metrics->CorrelationGroups("C-1").Value(), 1);
  EXPECT_EQ(Value(state_->metrics->Alerts("C-1", "critical")), 1);
  EXPECT_EQ(Value(state_->metrics->Alerts("T-1", "high")), 3) << "2 event alerts and a summary";
}

TEST_F(StatefulLaneTest, ACorrelationAlertHoldsTheOffsetOfItsMessage) {
  Start({Mode::kHold});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  Consume();
  ASSERT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-0", "correlation C-1 e-1"}));
  ASSERT_TRUE(sinks_[0]->AckNext());  // e-0's alert
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "e-1 waits for its correlation alert";
  EXPECT_EQ(input_->in_flight(), 1u);
  ASSERT_TRUE(sinks_[0]->AckNext());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 2);
  EXPECT_EQ(input_->in_flight(), 0u);
}

TEST_F(StatefulLaneTest, RefusedCorrelationAlertWithoutDeadLetterStopsUncommitted) {
  Start({Mode::kAck, Mode::kAck}, nullptr);
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  Consume();
  sinks_[1]->set_mode(Mode::kRefuse);
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));  // its one alert: C-1's
  Consume();
  EXPECT_EQ(Shapes(*sinks_[1]), (Strings{"event T-1 e-0", "correlation C-1 e-1"}));
  EXPECT_TRUE(control_.failed.load());
  EXPECT_TRUE(control_.stop.load());
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 1) << "committed up to the refused message, not past";
  EXPECT_EQ(input_->in_flight(), 0u);
  input_->CommitAndClose();
  EXPECT_EQ(consumer_->stored("audit", 0), 1);
}

TEST_F(StatefulLaneTest, IdleFlushEmitsTheSummariesAfterIdleFlushAndNotBefore) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  consumer_->Produce("audit", 0, LaunchAt("e-2", "10:02"));
  Consume();
  Idle();
  ASSERT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-0", "correlation C-1 e-1"}));
  clock_.Advance(seconds(29));  // state.idle_flush is 30 s by default
  Idle();
  EXPECT_EQ(sinks_[0]->records().size(), 2u);
  clock_.Advance(seconds(2));
  ASSERT_TRUE(input_->PollOnce());
  EXPECT_EQ(sinks_[0]->records().size(), 2u) << "the poll thread delivers nothing itself";
  EXPECT_EQ(state_->work.size(), 1u) << "a flush mark for the workers";
  RunWorkers();
  ASSERT_EQ(Shapes(*sinks_[0]),
            (Strings{"event T-1 e-0", "correlation C-1 e-1", "summary T-1 e-2"}));
  EXPECT_EQ(Field(sinks_[0]->records()[2].value, "count"), "2");
  clock_.Advance(seconds(60));
  Idle();
  EXPECT_EQ(sinks_[0]->records().size(), 3u) << "flushed once";
  EXPECT_EQ(consumer_->stored("audit", 0), 3) << "the flush has nothing to commit";
  EXPECT_EQ(input_->in_flight(), 0u);
  EXPECT_FALSE(control_.failed.load());
  // A new message starts the idle time again; the window is gone: its alert is raised.
  consumer_->Produce("audit", 0, LaunchAt("e-3", "10:03"));
  Consume();
  const Strings shapes = Shapes(*sinks_[0]);
  ASSERT_EQ(shapes.size(), 5u);
  EXPECT_EQ(shapes[3], "event T-1 e-3");
  EXPECT_EQ(shapes[4], "correlation C-1 e-3") << "the correlation's state is not flushed";
}

TEST_F(StatefulLaneTest, ARefusedFlushSummaryStopsTheDaemon) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  Consume();
  Idle();
  sinks_[0]->set_mode(Mode::kRefuse);
  clock_.Advance(seconds(31));
  Idle();
  EXPECT_EQ(Shapes(*sinks_[0]).back(), "summary T-1 e-1");
  EXPECT_TRUE(control_.failed.load());
  EXPECT_EQ(consumer_->stored("audit", 0), 2) << "what was acknowledged stays committable";
}

TEST_F(StatefulLaneTest, RevokeFlushesTheLaneAndAFreshAssignmentStartsEmpty) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  Consume();
  EXPECT_EQ(input_->lanes(), 1u);
  EXPECT_EQ(state_->metrics->CorrelationGroups("C-1").Value(), 1) << "fired: cleared, still held";
  consumer_->Revoke({{"audit", 0}});
  EXPECT_EQ(input_->lanes(), 0u);
  EXPECT_EQ(sinks_[0]->records().size(), 2u) << "the poll thread delivers nothing itself";
  EXPECT_EQ(state_->work.size(), 1u) << "a finish mark for the workers";
  RunWorkers();
  EXPECT_EQ(Shapes(*sinks_[0]),
            (Strings{"event T-1 e-0", "correlation C-1 e-1", "summary T-1 e-1"}));
  EXPECT_EQ(consumer_->stored("audit", 0), 2);
  consumer_->Assign({{"audit", 0}});
  consumer_->Produce("audit", 0, LaunchAt("e-2", "10:02"));
  Consume();
  EXPECT_EQ(Shapes(*sinks_[0]).back(), "event T-1 e-2") << "a fresh state: raised again";
  EXPECT_EQ(state_->metrics->CorrelationGroups("C-1").Value(), 1);
  consumer_->Revoke({{"audit", 0}}, /*lost=*/true);
  EXPECT_EQ(input_->lanes(), 0u);
  EXPECT_EQ(sinks_[0]->records().size(), 4u) << "lost: dropped without summaries";
  EXPECT_EQ(state_->metrics->CorrelationGroups("C-1").Value(), 0) << "its groups left the gauge";
}

TEST_F(StatefulLaneTest, ShutdownFlushesEveryLane) {
  Start({Mode::kAck});
  consumer_->Assign({{"audit", 1}});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 1, LaunchAt("e-1", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-2", "10:01"));
  consumer_->Produce("audit", 1, LaunchAt("e-3", "10:01"));
  Consume();
  EXPECT_EQ(input_->lanes(), 2u) << "one per partition";
  EXPECT_EQ(Value(state_->metrics->CorrelationAlerts("C-1")), 2) << "each partition its own";
  input_->FlushState();
  EXPECT_EQ(input_->lanes(), 0u);
  const Strings shapes = Shapes(*sinks_[0]);
  EXPECT_EQ(std::count(shapes.begin(), shapes.end(), "summary T-1 e-2"), 1);
  EXPECT_EQ(std::count(shapes.begin(), shapes.end(), "summary T-1 e-3"), 1);
}

TEST_F(StatefulLaneTest, ReloadKeepsUnchangedDefinitionsAndDropsChangedOnes) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  Consume();
  // The same suppression (kept: e-2 stays suppressed); C-1 now at 3 (dropped: counts anew).
  Publish(StatefulPolicy("1h", 3));
  consumer_->Produce("audit", 0, LaunchAt("e-2", "10:02"));
  consumer_->Produce("audit", 0, LaunchAt("e-3", "10:03"));
  Consume();
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-0", "correlation C-1 e-1"}));
  // T-1 suppressed for 2h now: its window (e-1, e-2, e-3 suppressed) is summed up, e-4 raised;
  // C-1 unchanged this time: e-4 is its third launch since the last reload.
  Publish(StatefulPolicy("2h", 3));
  consumer_->Produce("audit", 0, LaunchAt("e-4", "10:04"));
  Consume();
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-0", "correlation C-1 e-1", "summary T-1 e-3",
                                         "event T-1 e-4", "correlation C-1 e-4"}));
  EXPECT_EQ(Field(sinks_[0]->records()[2].value, "count"), "3");
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 5);
  EXPECT_EQ(Value(state_->metrics->Suppressed("T-1")), 3);
  EXPECT_EQ(Value(state_->metrics->CorrelationAlerts("C-1")), 2);
}

TEST_F(StatefulLaneTest, EvictionsAtMaxGroupsAreCounted) {
  Start({Mode::kAck});
  Diagnostics diags;
  StatefulOptions options;
  options.max_groups = 1;  // state.max_groups
  auto snapshot = std::make_shared<Snapshot>(*MakePolicySnapshot(StatefulPolicy(), 9));
  snapshot->policy = CompilePolicy(
      LoadDefinitionsFromStrings({{"inline.yaml", StatefulPolicy()}}, diags, LoadOptions{}), diags,
      options);
  ASSERT_NE(snapshot->policy, nullptr);
  state_->snapshots.Publish(snapshot);
  consumer_->Produce("audit", 0, CloudTrail("RunInstances", "e-0", "2025-06-01T10:00:00Z", "1"));
  consumer_->Produce("audit", 0, CloudTrail("RunInstances", "e-1", "2025-06-01T10:01:00Z", "2"));
  consumer_->Produce("audit", 0, CloudTrail("RunInstances", "e-2", "2025-06-01T10:02:00Z", "3"));
  Consume();
  EXPECT_EQ(Value(state_->metrics->StateEvictions("C-1")), 2);
  EXPECT_EQ(Value(state_->metrics->StateEvictions("T-1")), 2);
  EXPECT_EQ(state_->metrics->CorrelationGroups("C-1").Value(), 1);
  EXPECT_FALSE(state_->evictions.First("C-1")) << "logged already";
  EXPECT_FALSE(state_->evictions.First("T-1"));
}

TEST_F(StatefulLaneTest, APolicyWithoutStatefulRulesTakesTheDirectPath) {
  Start({Mode::kAck}, nullptr, LaunchPolicy("T-1"));
  consumer_->Produce("audit", 0, Launch("e-0"));
  consumer_->Produce("audit", 0, Launch("e-1"));
  PollAll();
  EXPECT_EQ(input_->lanes(), 0u);
  std::vector<WorkItem> items;
  while (state_->work.size() > 0) items.push_back(std::move(*state_->work.Pop()));
  ASSERT_EQ(items.size(), 2u);
  for (const WorkItem& item : items) EXPECT_EQ(item.lane, nullptr);
  Worker worker(state_->context(), state_->decoder_options);
  worker.Handle(items[1]);  // no ordering: delivered as each is done
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-1"}));
  worker.Handle(items[0]);
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 e-1", "event T-1 e-0"}));
}

// A reload to a policy without stateful rules: the lane's windows are summed up at the next
// message, and the partition goes back to the direct path.
TEST_F(StatefulLaneTest, ALaneWhosePolicyLostItsStatefulRulesRetires) {
  Start({Mode::kAck});
  consumer_->Produce("audit", 0, LaunchAt("e-0", "10:00"));
  consumer_->Produce("audit", 0, LaunchAt("e-1", "10:01"));
  Consume();
  Publish(LaunchPolicy("T-1"));
  consumer_->Produce("audit", 0, LaunchAt("e-2", "10:02"));
  Consume();
  EXPECT_EQ(Shapes(*sinks_[0]),
            (Strings{"event T-1 e-0", "correlation C-1 e-1", "summary T-1 e-1", "event T-1 e-2"}));
  EXPECT_EQ(input_->lanes(), 1u);
  consumer_->Produce("audit", 0, LaunchAt("e-3", "10:03"));
  PollAll();
  EXPECT_EQ(input_->lanes(), 0u);
  RunWorkers();
  EXPECT_EQ(Shapes(*sinks_[0]).back(), "event T-1 e-3");
  Idle();
  EXPECT_EQ(consumer_->stored("audit", 0), 4);
}

// Worker threads racing over two partitions deliver, per partition, exactly what one worker
// handling the messages in order delivers.
TEST(StatefulLaneThreadsTest, ConcurrentWorkersDeliverWhatOneWorkerDelivers) {
  auto run = [](int threads) {
    PipelineHarness h;
    std::vector<std::unique_ptr<FakeSink>> sinks;
    sinks.push_back(std::make_unique<FakeSink>("fake:a"));
    h.Build(std::move(sinks), nullptr);
    h.state_->snapshots.Publish(MakePolicySnapshot(StatefulPolicy("10m", 3), 2));
    h.consumer_->Assign({{"audit", 0}, {"audit", 1}});
    for (int i = 0; i < 400; ++i) {
      const int minute = i / 3;
      char hhmm[6];
      std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", 10 + minute / 60, minute % 60);
      const std::string account = "11112222333" + std::to_string(i % 4);
      const std::string id = "e-" + std::to_string(i);
      const std::string time = std::string("2025-06-01T") + hhmm + ":00Z";
      h.consumer_->Produce(
          "audit", i % 2,
          CloudTrail(i % 5 == 0 ? "DescribeInstances" : "RunInstances", id, time, account));
    }
    h.PollAll();
    if (threads == 0) {
      h.RunWorkers();
    } else {
      h.state_->work.Close();
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back(RunWorker, h.state_->context(), std::ref(h.state_->work),
                             h.state_->decoder_options);
      }
      for (auto& w : workers) w.join();
    }
    h.input_->FlushState();
    std::map<std::string, Strings> by_partition;
    for (const SinkRecord& r : h.sinks_[0]->records()) {
      by_partition[Field(r.value, "partition")].push_back(Field(r.value, "kind") + " " +
                                                          Field(r.value, "rule_id") + " " + r.key);
    }
    EXPECT_FALSE(h.control_.failed.load());
    return by_partition;
  };
  const auto expected = run(0);
  ASSERT_EQ(expected.size(), 2u);
  size_t summaries = 0, correlations = 0;
  for (const auto& [partition, shapes] : expected) {
    for (const std::string& s : shapes) {
      summaries += s.starts_with("summary") ? 1 : 0;
      correlations += s.starts_with("correlation") ? 1 : 0;
    }
  }
  EXPECT_GT(summaries, 10u);
  EXPECT_GT(correlations, 10u);
  for (int round = 0; round < 5; ++round) EXPECT_EQ(run(4), expected) << "round " << round;
}

// A file source: one lane, in line order; the windows' summaries at the end (FlushState).
TEST_F(StatefulLaneTest, AFileSourceRunsTheStageInLineOrder) {
  Start({Mode::kAck});
  TempDir dir;
  FileSourceConfig config;
  config.path.path = dir.Write(
      "audit.jsonl", LaunchAt("f-0", "10:00") + "\n" + LaunchAt("f-1", "10:01") + "\n" +
                         DescribeAt("f-2", "10:02") + "\n" + LaunchAt("f-3", "10:03") + "\n");
  config.format = Format::kCloudTrail;
  auto follower = FileFollower::Open(config, 1 << 20);
  ASSERT_TRUE(follower.ok());
  FileInput input(config, "file[0]", std::move(follower.value()), nullptr, state_->context(),
                  state_->decoder_options);
  input.Run();  // not following: returns at the end of the file
  EXPECT_EQ(Shapes(*sinks_[0]), (Strings{"event T-1 f-0", "correlation C-1 f-1", "event D-1 f-2"}));
  input.FlushState();
  EXPECT_EQ(Shapes(*sinks_[0]).back(), "summary T-1 f-3");
  EXPECT_EQ(Field(sinks_[0]->records().back().value, "count"), "2");
  EXPECT_FALSE(control_.failed.load());
}

}  // namespace
}  // namespace chipwatch::testing
