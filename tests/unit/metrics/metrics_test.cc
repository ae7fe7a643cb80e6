// Tests for Metrics: the family list (names, HELP, TYPE), labels and values, get-or-create,
// concurrency of the lock-free handles, histogram exposition, series removal, and promtool's view
// of the whole exposition.
#include "metrics/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace chipwatch {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The exposition's lines, for exact matching of samples.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

size_t CountLinesStartingWith(const std::string& text, const std::string& prefix) {
  size_t n = 0;
  for (const std::string& l : Lines(text)) n += l.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// Creates one series of every labelled family.
void TouchEverything(Metrics& m) {
  m.Events("kafka[0]", "cloudtrail").Inc();
  m.DecodeErrors("cloudtrail", "invalid_json").Inc();
  m.Alerts("h100-restricted-destination", "critical").Inc();
  m.DeadLetters().Inc();
  m.Messages("kafka[0]").Inc();
  m.EventProcessing().Observe(0.0002);
  m.AlertDelivery().Observe(0.02);
  m.ConsumerLag("cloudtrail", 3).Set(42);
  m.InFlight("kafka[0]").Set(7);
  m.ConsumerPaused("kafka[0]").Set(0);
  m.SinkErrors("kafka").Inc();
  m.SinkPending("file").Set(2);
  m.RulesLoaded().Set(31);
  m.RulesReload(true).Inc();
  m.Ready().Set(1);
  m.CorrelationGroups("CW-CORR-001").Set(3);
  m.CorrelationAlerts("CW-CORR-001").Inc();
  m.Suppressed("CW-HW-001").Inc();
  m.LateEvents("CW-CORR-001").Inc();
  m.StateEvictions("CW-CORR-001").Inc();
  m.StateSnapshot().Observe(0.2);
}

struct FamilyType {
  const char* name;
  const char* type;
};

constexpr FamilyType kAllFamilies[] = {
    {"chipwatch_events_total", "counter"},
    {"chipwatch_decode_errors_total", "counter"},
    {"chipwatch_alerts_total", "counter"},
    {"chipwatch_dead_letter_total", "counter"},
    {"chipwatch_event_processing_seconds", "histogram"},
    {"chipwatch_alert_delivery_seconds", "histogram"},
    {"chipwatch_consumer_lag", "gauge"},
    {"chipwatch_sink_errors_total", "counter"},
    {"chipwatch_rules_loaded", "gauge"},
    {"chipwatch_rules_reload_total", "counter"},
    {"chipwatch_build_info", "gauge"},
    {"chipwatch_messages_total", "counter"},
    {"chipwatch_in_flight_messages", "gauge"},
    {"chipwatch_consumer_paused", "gauge"},
    {"chipwatch_sink_pending", "gauge"},
    {"chipwatch_ready", "gauge"},
    {"chipwatch_correlation_groups", "gauge"},
    {"chipwatch_correlation_alerts_total", "counter"},
    {"chipwatch_suppressed_total", "counter"},
    {"chipwatch_late_events_total", "counter"},
    {"chipwatch_state_evictions_total", "counter"},
    {"chipwatch_state_snapshot_seconds", "histogram"},
};

TEST(MetricsTest, EveryFamilyHasMeaningfulHelpAndTheRightTypeOnce) {
  Metrics m("1.2.3");
  TouchEverything(m);
  const std::string text = m.Serialize();
  for (const FamilyType& f : kAllFamilies) {
    SCOPED_TRACE(f.name);
    const std::string help = std::string("# HELP ") + f.name + " ";
    EXPECT_EQ(CountLinesStartingWith(text, help), 1u);
    EXPECT_EQ(CountLinesStartingWith(text, std::string("# TYPE ") + f.name + " "), 1u);
    EXPECT_TRUE(HasLine(text, std::string("# TYPE ") + f.name + " " + f.type));
    for (const std::string& line : Lines(text)) {
      if (line.rfind(help, 0) == 0) {
        EXPECT_GE(line.size() - help.size(), 20u) << "HELP too terse: " << line;
      }
    }
  }
}

TEST(MetricsTest, BuildInfoAndLabelLessSeriesExistFromTheStart) {
  Metrics m("0.1.0-test");
  const std::string text = m.Serialize();
  EXPECT_TRUE(HasLine(text, "chipwatch_build_info{version=\"0.1.0-test\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "chipwatch_dead_letter_total 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_rules_loaded 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_ready 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_rules_reload_total{result=\"success\"} 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_rules_reload_total{result=\"failure\"} 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_event_processing_seconds_count 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_alert_delivery_seconds_count 0"));
  EXPECT_TRUE(HasLine(text, "chipwatch_state_snapshot_seconds_count 0"));
  // Labelled families appear with their first series.
  EXPECT_FALSE(Contains(text, "chipwatch_events_total"));
}

TEST(MetricsTest, LabelsAndValues) {
  Metrics m("1");
  m.Events("kafka[0]", "cloudtrail").Inc(3);
  m.Events("kafka[0]", "gcp_audit").Inc();
  m.DecodeErrors("k8s_audit", "missing_field").Inc(2);
  m.Alerts("r1", "high").Inc();
  m.Messages("file[1]").Inc(5);
  m.ConsumerLag("logs", 12).Set(1500);
  m.InFlight("kafka[0]").Inc(4);
  m.InFlight("kafka[0]").Dec();
  m.ConsumerPaused("kafka[0]").Set(1);
  m.SinkErrors("stdout").Inc();
  m.SinkPending("kafka").Set(17);
  m.RulesLoaded().Set(12);
  m.RulesReload(false).Inc();
  m.DeadLetters().Inc(2);
  m.Ready().Set(1);
  m.CorrelationGroups("CW-CORR-001").Inc(5);
  m.CorrelationGroups("CW-CORR-001").Dec(2);
  m.CorrelationAlerts("CW-CORR-002").Inc();
  m.Suppressed("CW-HW-001").Inc(4);
  m.LateEvents("CW-CORR-003").Inc(2);
  m.StateEvictions("CW-CORR-001").Inc();
  m.StateSnapshot().Observe(0.003);
  const std::string text = m.Serialize();
  for (const char* line : {
           R"(chipwatch_correlation_groups{rule_id="CW-CORR-001"} 3)",
           R"(chipwatch_correlation_alerts_total{rule_id="CW-CORR-002"} 1)",
           R"(chipwatch_suppressed_total{rule_id="CW-HW-001"} 4)",
           R"(chipwatch_late_events_total{rule_id="CW-CORR-003"} 2)",
           R"(chipwatch_state_evictions_total{rule_id="CW-CORR-001"} 1)",
           R"(chipwatch_state_snapshot_seconds_bucket{le="0.005"} 1)",
           R"(chipwatch_state_snapshot_seconds_count 1)",
           R"(chipwatch_events_total{format="cloudtrail",source="kafka[0]"} 3)",
           R"(chipwatch_events_total{format="gcp_audit",source="kafka[0]"} 1)",
           R"(chipwatch_decode_errors_total{format="k8s_audit",reason="missing_field"} 2)",
           R"(chipwatch_alerts_total{rule_id="r1",severity="high"} 1)",
           R"(chipwatch_messages_total{source="file[1]"} 5)",
           R"(chipwatch_consumer_lag{partition="12",topic="logs"} 1500)",
           R"(chipwatch_in_flight_messages{source="kafka[0]"} 3)",
           R"(chipwatch_consumer_paused{source="kafka[0]"} 1)",
           R"(chipwatch_sink_errors_total{sink="stdout"} 1)",
           R"(chipwatch_sink_pending{sink="kafka"} 17)",
           R"(chipwatch_rules_loaded 12)",
           R"(chipwatch_rules_reload_total{result="failure"} 1)",
           R"(chipwatch_rules_reload_total{result="success"} 0)",
           R"(chipwatch_dead_letter_total 2)",
           R"(chipwatch_ready 1)",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line << "\n" << text;
  }
}

TEST(MetricsTest, HandlesAreStableAndDistinctPerLabelSet) {
  Metrics m("1");
  Counter& a = m.Events("s", "f");
  EXPECT_EQ(&a, &m.Events("s", "f"));
  EXPECT_NE(&a, &m.Events("s", "g"));
  // Length-prefixed keys: ("ab","c") and ("a","bc") are different series.
  EXPECT_NE(&m.Alerts("ab", "c"), &m.Alerts("a", "bc"));
  EXPECT_EQ(&m.RulesReload(true), &m.RulesReload(true));
  EXPECT_NE(&m.RulesReload(true), &m.RulesReload(false));
  EXPECT_EQ(&m.ConsumerLag("t", 1), &m.ConsumerLag("t", 1));
  a.Inc(2);
  EXPECT_DOUBLE_EQ(m.Events("s", "f").Value(), 2);
  a.Inc(-5);  // counters never go down
  EXPECT_DOUBLE_EQ(a.Value(), 2);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m("1");
  m.Alerts("quote\"back\\slash\nnewline", "low").Inc();
  const std::string text = m.Serialize();
  EXPECT_TRUE(HasLine(
      text, R"(chipwatch_alerts_total{rule_id="quote\"back\\slash\nnewline",severity="low"} 1)"))
      << text;
}

TEST(MetricsTest, ConcurrentIncrementsFromFourThreadsSumExactly) {
  Metrics m("1");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      // Each thread resolves the handles itself: get-or-create races too.
      Counter& events = m.Events("kafka[0]", "cloudtrail");
      Gauge& in_flight = m.InFlight("kafka[0]");
      Gauge& pending = m.SinkPending("kafka");
      for (int i = 0; i < kPerThread; ++i) {
        events.Inc();
        in_flight.Inc();
        in_flight.Dec();
        pending.Inc(0.5);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_DOUBLE_EQ(m.Events("kafka[0]", "cloudtrail").Value(), kThreads * kPerThread);
  EXPECT_DOUBLE_EQ(m.InFlight("kafka[0]").Value(), 0);
  EXPECT_DOUBLE_EQ(m.SinkPending("kafka").Value(), kThreads * kPerThread * 0.5);
  EXPECT_TRUE(HasLine(m.Serialize(),
                      R"(chipwatch_events_total{format="cloudtrail",source="kafka[0]"} 400000)"));
}

TEST(MetricsTest, ConcurrentSerializeWhileUpdatingAndCreating) {
  Metrics m("1");
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) EXPECT_FALSE(m.Serialize().empty());
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&m, t] {
      for (int i = 0; i < 2000; ++i) {
        m.Alerts("rule-" + std::to_string(i % 50), t % 2 ? "high" : "low").Inc();
        m.ConsumerLag("topic", i % 8).Set(i);
        if (i % 7 == 0) m.RemoveConsumerLag("topic", i % 8);
        m.EventProcessing().Observe(i * 1e-6);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(m.EventProcessing().Count(), 6000u);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithCountAndSum) {
  Metrics m("1");
  Histogram& h = m.EventProcessing();
  h.Observe(0.000005);  // <= 10us
  h.Observe(0.00001);   // == 10us: `le` is inclusive
  h.Observe(0.0003);    // <= 500us
  h.Observe(0.75);      // <= 1s
  h.Observe(3.0);       // +Inf only
  const std::string text = m.Serialize();
  const std::string b = "chipwatch_event_processing_seconds_bucket";
  EXPECT_TRUE(HasLine(text, b + R"({le="1e-05"} 2)")) << text;
  EXPECT_TRUE(HasLine(text, b + R"({le="0.00025"} 2)"));
  EXPECT_TRUE(HasLine(text, b + R"({le="0.0005"} 3)"));
  EXPECT_TRUE(HasLine(text, b + R"({le="0.5"} 3)"));
  EXPECT_TRUE(HasLine(text, b + R"({le="1"} 4)"));
  EXPECT_TRUE(HasLine(text, b + R"({le="+Inf"} 5)"));
  EXPECT_TRUE(HasLine(text, "chipwatch_event_processing_seconds_count 5"));
  EXPECT_EQ(CountLinesStartingWith(text, b + "{"), 17u);  // 16 bounds (10us..1s) and +Inf

  // Cumulative: never decreasing, ending at the count.
  std::vector<uint64_t> counts = h.CumulativeCounts();
  ASSERT_EQ(counts.size(), h.upper_bounds().size() + 1);
  EXPECT_DOUBLE_EQ(h.upper_bounds().front(), 0.00001);
  EXPECT_DOUBLE_EQ(h.upper_bounds().back(), 1.0);
  for (size_t i = 1; i < counts.size(); ++i) EXPECT_LE(counts[i - 1], counts[i]);
  EXPECT_EQ(counts.back(), 5u);
  EXPECT_NEAR(h.Sum(), 0.000005 + 0.00001 + 0.0003 + 0.75 + 3.0, 1e-12);
  bool sum_line = false;
  for (const std::string& line : Lines(text)) {
    const std::string prefix = "chipwatch_event_processing_seconds_sum ";
    if (line.rfind(prefix, 0) == 0) {
      sum_line = true;
      EXPECT_NEAR(std::stod(line.substr(prefix.size())), h.Sum(), 1e-9);
    }
  }
  EXPECT_TRUE(sum_line);

  // Alert delivery: 1ms .. 30s.
  Histogram& d = m.AlertDelivery();
  EXPECT_DOUBLE_EQ(d.upper_bounds().front(), 0.001);
  EXPECT_DOUBLE_EQ(d.upper_bounds().back(), 30.0);
  d.Observe(12);
  EXPECT_TRUE(HasLine(m.Serialize(), R"(chipwatch_alert_delivery_seconds_bucket{le="30"} 1)"));
}

TEST(MetricsTest, HistogramObserveIsExactUnderConcurrency) {
  Histogram h({0.1, 1.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 50000; ++i) {
        h.Observe(0.0625);  // binary fractions: the sum is exact
        h.Observe(0.5);
        h.Observe(2.0);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{200000, 400000, 600000}));
  EXPECT_EQ(h.Count(), 600000u);
  EXPECT_DOUBLE_EQ(h.Sum(), 200000 * (0.0625 + 0.5 + 2.0));
  h.Observe(std::nan(""));  // ignored
  EXPECT_EQ(h.Count(), 600000u);
}

TEST(MetricsTest, RemoveConsumerLagRemovesTheSeriesAndKeepsHandlesValid) {
  Metrics m("1");
  Gauge& p0 = m.ConsumerLag("logs", 0);
  m.ConsumerLag("logs", 1).Set(5);
  p0.Set(10);
  std::string text = m.Serialize();
  EXPECT_TRUE(HasLine(text, R"(chipwatch_consumer_lag{partition="0",topic="logs"} 10)"));
  EXPECT_TRUE(HasLine(text, R"(chipwatch_consumer_lag{partition="1",topic="logs"} 5)"));

  m.RemoveConsumerLag("logs", 0);
  m.RemoveConsumerLag("never-assigned", 9);  // harmless
  p0.Set(11);                                // a late update to a revoked partition: invisible
  text = m.Serialize();
  EXPECT_FALSE(Contains(text, R"(partition="0")")) << text;
  EXPECT_TRUE(HasLine(text, R"(chipwatch_consumer_lag{partition="1",topic="logs"} 5)"));

  m.RemoveConsumerLag("logs", 1);
  EXPECT_FALSE(Contains(m.Serialize(), "chipwatch_consumer_lag"));

  // Reassigned: the same handle, exported again from 0.
  Gauge& again = m.ConsumerLag("logs", 0);
  EXPECT_EQ(&again, &p0);
  EXPECT_TRUE(HasLine(m.Serialize(), R"(chipwatch_consumer_lag{partition="0",topic="logs"} 0)"));
}

// promtool, when installed (Debian package `prometheus`), is the reference parser and linter.
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/promtool";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

TEST(MetricsTest, PromtoolCheckMetricsAcceptsTheExposition) {
  const std::string promtool = FindPromtool();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  Metrics m("0.1.0");
  TouchEverything(m);
  m.Alerts("with \"quotes\"", "low").Inc();
  m.AlertDelivery().Observe(45);
  char path[] = "/tmp/chipwatch_metrics_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << m.Serialize();
  }
  const std::string command = promtool + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  unlink(path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << output;  // no lint findings either
}

}  // namespace
}  // namespace chipwatch
