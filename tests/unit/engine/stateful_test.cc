// The stateful stage (engine/stateful.h): suppression summaries, correlation alerts, the worker
// side's records, and determinism across batching.
#include "engine/stateful.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/input_reader.h"
#include "engine/policy.h"
#include "engine/processor.h"
#include "policy/loader.h"
#include "state/snapshot_file.h"

namespace chipwatch {
namespace {

// Rules over gpu_alloc records: the action says which rule matches.
constexpr char kRules[] = R"(
rules:
  - id: S-1
    title: suppressed allocation
    severity: high
    tags: [s]
    reason: "{tenant} on {node}"
    condition: {equals: {field: action, value: allocate}}
  - id: F-1
    title: feeds only
    severity: info
    condition: {equals: {field: action, value: release}}
  - id: T-A
    title: quota
    severity: low
    condition: {any: [{equals: {field: action, value: quota}}, {equals: {field: action, value: both}}]}
  - id: T-B
    title: launch
    severity: low
    condition: {any: [{equals: {field: action, value: launch}}, {equals: {field: action, value: both}}]}
  - id: P-1
    title: plain
    severity: low
    condition: {equals: {field: action, value: plain}}
)";

constexpr int64_t kBase = 1748772000000;  // 2025-06-01T10:00:00Z
constexpr int64_t kMinute = 60000;

// Lines added to a rule of kRules (`suppress: ...`, `alert: false`), by rule id.
using RuleExtras = std::vector<std::pair<std::string, std::string>>;

// kRules with `extras` inserted after each named rule's title, then `correlations` (YAML list
// items, each line indented by 2), loaded and compiled as replay does.
std::shared_ptr<const LoadedPolicy> Build(const RuleExtras& extras,
                                          const std::string& correlations = "",
                                          const StatefulOptions& options = {},
                                          std::string yaml = kRules) {
  for (const auto& [id, line] : extras) {
    const size_t rule = yaml.find("  - id: " + id + "\n");
    EXPECT_NE(rule, std::string::npos) << id;
    const size_t title_end = yaml.find('\n', yaml.find("title:", rule)) + 1;
    yaml.insert(title_end, "    " + line + "\n");
  }
  if (!correlations.empty()) yaml += "correlations:\n" + correlations;
  Diagnostics diags;
  auto defs = LoadDefinitionsFromStrings({{"rules.yaml", yaml}}, diags);
  EXPECT_FALSE(diags.has_errors()) << diags.items()[0].ToString() << "\n" << yaml;
  auto policy = CompilePolicy(std::move(defs), diags, options);
  EXPECT_NE(policy, nullptr) << (diags.items().empty() ? "" : diags.items()[0].ToString());
  return policy;
}

// One `correlations:` item: its id (title "<id> title", severity high, tags [correlation]) and
// its other keys, a line each.
std::string Corr(const std::string& id, std::initializer_list<std::string> keys) {
  std::string out = "  - id: " + id + "\n    title: " + id +
                    " title\n    severity: high\n    tags: [correlation]\n";
  for (const std::string& k : keys) out += "    " + k + "\n";
  return out;
}

// A gpu_alloc record; its source.ip is the one optional field the tests group by.
struct Ev {
  std::string id;
  int64_t minute;  // after kBase
  std::string action;
  std::string tenant;
  std::string ip;  // empty: unset
  std::string user = "u";
  std::string node = "n0";
};

std::string Json(const Ev& e) {
  std::string s = R"({"schema":"gpu-alloc/v1","event_id":")" + e.id + R"(","time":")" +
                  FormatTimestampMs(kBase + e.minute * kMinute) + R"(","action":")" + e.action +
                  R"(","cluster":"c1","node":")" + e.node + R"(","tenant":")" + e.tenant +
                  R"(","user":")" + e.user +
                  R"(","gpu_model":"Tesla T4","gpu_count":1,"job_id":"j","region":"r")";
  if (!e.ip.empty()) s += R"(,"src_ip":")" + e.ip + R"(")";
  return s + "}";
}

// Processes events into outputs of `per_output` events each (0: one output), feeds them through
// one stage in order, flushes, and returns the text written.
std::string Replay(const std::shared_ptr<const LoadedPolicy>& policy, const std::vector<Ev>& events,
                   size_t per_output = 0, StatefulStage* keep = nullptr) {
  EventProcessor processor(policy, nullptr);
  StatefulStage own(policy);
  StatefulStage& stage = keep != nullptr ? *keep : own;
  ProcessorOutput in, out;
  std::string text;
  for (size_t i = 0; i < events.size(); ++i) {
    std::string padded = Json(events[i]);
    const size_t size = padded.size();
    padded.append(kInputPadding, '\0');
    Origin origin;
    origin.file = "t.jsonl";
    origin.line = i + 1;
    processor.Process(std::string_view(padded.data(), size), padded.size(), Format::kGpuAlloc,
                      origin, in);
    EXPECT_TRUE(in.failures.empty()) << in.failures[0].message;
    if (per_output != 0 && (i + 1) % per_output == 0) {
      stage.Process(in, out);
      text += out.alerts;
      out.Clear();
    }
  }
  stage.Process(in, out);
  stage.Flush(out);
  text += out.alerts;
  return text;
}

// One alert line, parsed.
struct Alert {
  std::string kind, rule_id, event_id, severity, reason, group, principal, first_seen, last_seen;
  uint64_t count = 0;
  uint64_t line = 0;
  std::vector<std::string> events, values;
  bool has_values = false;
};

std::vector<Alert> Parse(const std::string& text) {
  std::vector<Alert> alerts;
  simdjson::dom::parser parser;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    simdjson::dom::element doc;
    auto error = parser.parse(line).get(doc);
    EXPECT_FALSE(error) << line;
    if (error) continue;
    Alert a;
    a.kind = std::string(doc["kind"].get_string().value());
    a.rule_id = std::string(doc["rule_id"].get_string().value());
    a.event_id = std::string(doc["event_id"].get_string().value());
    a.severity = std::string(doc["severity"].get_string().value());
    a.reason = std::string(doc["reason"].get_string().value());
    a.principal = std::string(doc["actor"]["principal"].get_string().value());
    a.line = doc["origin"]["line"].get_uint64().value();
    if (a.kind != "event") {
      a.group = simdjson::minify(doc["group"]);
      a.count = doc["count"].get_uint64().value();
      a.first_seen = std::string(doc["first_seen"].get_string().value());
      a.last_seen = std::string(doc["last_seen"].get_string().value());
      for (auto id : doc["events"].get_array()) a.events.emplace_back(id.get_string().value());
      simdjson::dom::array values;
      if (!doc["values"].get_array().get(values)) {
        a.has_values = true;
        for (auto v : values) a.values.emplace_back(v.get_string().value());
      }
    }
    alerts.push_back(std::move(a));
  }
  return alerts;
}

// "kind rule_id event_id" per alert: the shape of an output.
std::vector<std::string> Shape(const std::vector<Alert>& alerts) {
  std::vector<std::string> shape;
  for (const Alert& a : alerts) shape.push_back(a.kind + " " + a.rule_id + " " + a.event_id);
  return shape;
}

using Shapes = std::vector<std::string>;

TEST(StatefulSuppressionTest, FirstAlertRaisedRepeatsDroppedSummaryWhenTheStreamPassesTheEnd) {
  auto policy = Build({{"S-1", "suppress: {by: [tenant, source.ip], for: 1h}"}});
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "allocate", "A"},
                                            {"e2", 10, "allocate", "A"},
                                            {"e3", 20, "allocate", "A"},
                                            {"e4", 30, "allocate", "B"},
                                            {"e5", 61, "allocate", "B"},
                                            {"e6", 62, "plain", "B"}}));
  // e5's time closes A's window [0, 60m): its summary comes before e5's own (suppressed) alert;
  // B's window [30m, 90m) closes at the end of the input.
  EXPECT_EQ(Shape(alerts), (Shapes{"event S-1 e1", "event S-1 e4", "summary S-1 e3", "event P-1 e6",
                                   "summary S-1 e5"}));
  const Alert& a = alerts[2];
  EXPECT_EQ(a.count, 2u);
  EXPECT_EQ(a.group, R"({"tenant":"A","source.ip":null})");
  EXPECT_EQ(a.events, (std::vector<std::string>{"e2", "e3"}));
  EXPECT_EQ(a.first_seen, "2025-06-01T10:10:00.000Z");
  EXPECT_EQ(a.last_seen, "2025-06-01T10:20:00.000Z");
  EXPECT_EQ(a.severity, "high");
  EXPECT_EQ(a.line, 3u);  // the last suppressed match's origin
  EXPECT_FALSE(a.has_values);
  EXPECT_EQ(
      a.reason,
      "2 more matches of S-1 for tenant=A, source.ip=- not raised: suppressed for 1h after its "
      "alert at 2025-06-01T10:00:00.000Z");
  EXPECT_EQ(alerts[4].count, 1u);
  EXPECT_EQ(alerts[4].group, R"({"tenant":"B","source.ip":null})");
}

TEST(StatefulSuppressionTest, AMatchAtTheEndClosesTheWindowAndRaisesItsOwnAlert) {
  auto policy = Build({{"S-1", "suppress: {by: [tenant], for: 60m}"}});
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "allocate", "A"},
                                            {"e2", 59, "allocate", "A"},
                                            {"e3", 60, "allocate", "A"},
                                            {"e4", 70, "allocate", "A"}}));
  EXPECT_EQ(Shape(alerts),
            (Shapes{"event S-1 e1", "summary S-1 e2", "event S-1 e3", "summary S-1 e4"}));
  EXPECT_EQ(alerts[1].group, R"({"tenant":"A"})");
}

TEST(StatefulSuppressionTest, FlushEmitsWhatIsStillOpenAndAWindowWithoutRepeatsNothing) {
  auto policy = Build({{"S-1", "suppress: {by: [source.ip], for: 3600s}"}});
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "allocate", "A", "192.0.2.1"},
                                            {"e2", 1, "allocate", "B", "192.0.2.1"},
                                            {"e3", 2, "allocate", "A", "192.0.2.2"},
                                            {"e4", 3, "allocate", "A", ""},
                                            {"e5", 4, "allocate", "A", ""}}));
  // .2's window has no repeat: no summary. An unset `by` field is a key of its own (null).
  EXPECT_EQ(Shape(alerts), (Shapes{"event S-1 e1", "event S-1 e3", "event S-1 e4", "summary S-1 e2",
                                   "summary S-1 e5"}));
  EXPECT_EQ(alerts[3].group, R"({"source.ip":"192.0.2.1"})");
  EXPECT_EQ(alerts[4].group, R"({"source.ip":null})");
}

TEST(StatefulSuppressionTest, AnEmptyValueIsNotAnUnsetOne) {
  auto policy = Build({{"S-1", "suppress: {by: [tenant], for: 1h}"}});
  // tenant "" is set (empty), and a key of its own.
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "allocate", ""}, {"e2", 1, "allocate", ""}}));
  ASSERT_EQ(Shape(alerts), (Shapes{"event S-1 e1", "summary S-1 e2"}));
  EXPECT_EQ(alerts[1].group, R"({"tenant":""})");
}

TEST(StatefulCorrelationTest, ValueCountFiresWithSortedValuesAndTheCompletingEvent) {
  auto policy =
      Build({{"F-1", "alert: false"}},
            Corr("C-V", {"type: value_count", "rules: [F-1]", "group_by: [node]", "field: tenant",
                         "timespan: 1h", "condition: {gte: 3}",
                         R"y(reason: "{group.node} released in {count} tenants ({count})")y"}));
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "release", "zeta", "", "u1"},
                                            {"e2", 1, "release", "alpha", "", "u2"},
                                            {"e3", 2, "release", "zeta", "", "u3"},
                                            {"e4", 3, "release", "beta", "", "u4"},
                                            {"e5", 4, "release", "gamma", "", "u5"}}));
  // F-1 has alert: false: no event alert; the correlation fires on e4 (three tenants).
  ASSERT_EQ(Shape(alerts), (Shapes{"correlation C-V e4"}));
  const Alert& a = alerts[0];
  EXPECT_EQ(a.count, 3u);
  EXPECT_EQ(a.values, (std::vector<std::string>{"alpha", "beta", "zeta"}));
  EXPECT_EQ(a.events, (std::vector<std::string>{"e1", "e2", "e3", "e4"}));
  EXPECT_EQ(a.principal, "u4");
  EXPECT_EQ(a.line, 4u);
  EXPECT_EQ(a.severity, "high");
  EXPECT_EQ(a.group, R"({"node":"n0"})");
  EXPECT_EQ(a.first_seen, "2025-06-01T10:00:00.000Z");
  EXPECT_EQ(a.last_seen, "2025-06-01T10:03:00.000Z");
  EXPECT_EQ(a.reason, "n0 released in 3 tenants (3)");
}

TEST(StatefulCorrelationTest, EventCountCountsAnEventOnceAndTemporalRecordsBothRules) {
  auto policy = Build(
      {}, Corr("C-E", {"type: event_count", "rules: [T-A, T-B]", "group_by: [tenant]",
                       "timespan: 1h", "condition: {gte: 2}"}) +
              Corr("C-T",
                   {"type: temporal", "rules: [T-A, T-B]", "group_by: [tenant]", "timespan: 1h"}));
  // e1 matches both rules: C-T completes at once, C-E counts it once (fires with e2).
  const auto alerts = Parse(Replay(policy, {{"e1", 0, "both", "A"}, {"e2", 1, "quota", "A"}}));
  EXPECT_EQ(Shape(alerts), (Shapes{"event T-A e1", "event T-B e1", "correlation C-T e1",
                                   "event T-A e2", "correlation C-E e2"}));
  EXPECT_EQ(alerts[2].count, 2u);
  EXPECT_EQ(alerts[2].reason, "2 rules (T-A, T-B) all matched within 1h for tenant=A");
  EXPECT_EQ(alerts[4].count, 2u);
  EXPECT_EQ(alerts[4].reason, "2 matches of T-A, T-B within 1h for tenant=A");
  EXPECT_FALSE(alerts[4].has_values);
}

TEST(StatefulCorrelationTest, LateMatchesAreIgnoredAndCounted) {
  auto policy = Build({}, Corr("C-E", {"type: event_count", "rules: [T-A]", "group_by: [tenant]",
                                       "timespan: 10m", "condition: {gte: 2}"}));
  StatefulStage stage(policy);
  const auto alerts = Parse(Replay(policy,
                                   {{"e1", 60, "quota", "A"},
                                    {"e2", 50, "quota", "A"},  // at T - timespan: late
                                    {"e3", 55, "quota", "A"}},
                                   0, &stage));
  EXPECT_EQ(Shape(alerts),
            (Shapes{"event T-A e1", "event T-A e2", "event T-A e3", "correlation C-E e3"}));
  EXPECT_EQ(alerts[3].events, (std::vector<std::string>{"e1", "e3"}));
  const auto stats = stage.correlation_stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].late, 1u);
  EXPECT_EQ(stats[0].alerts, 1u);
  EXPECT_EQ(stats[0].groups, 1u);
}

TEST(StatefulCorrelationTest, EventsMissingAGroupFieldAreCountedNotOffered) {
  auto policy =
      Build({}, Corr("C-E", {"type: event_count", "rules: [T-A]", "group_by: [tenant, source.ip]",
                             "timespan: 1h", "condition: {gte: 2}"}));
  StatefulStage stage(policy);
  const auto alerts = Parse(Replay(policy,
                                   {{"e1", 0, "quota", "A"},
                                    {"e2", 1, "quota", "A"},
                                    {"e3", 2, "quota", "A", "192.0.2.1"},
                                    {"e4", 3, "quota", "A", "192.0.2.1"}},
                                   0, &stage));
  EXPECT_EQ(Shape(alerts), (Shapes{"event T-A e1", "event T-A e2", "event T-A e3", "event T-A e4",
                                   "correlation C-E e4"}));
  EXPECT_EQ(alerts[4].group, R"({"tenant":"A","source.ip":"192.0.2.1"})");
  const auto stats = stage.correlation_stats();
  EXPECT_EQ(stats[0].missing_group_field, 2u);
  EXPECT_EQ(stats[0].groups, 1u);
}

TEST(StatefulCorrelationTest, QuietTimeAfterAFiringRaisesNothing) {
  auto policy = Build({{"F-1", "alert: false"}},
                      Corr("C-E", {"type: event_count", "rules: [F-1]", "group_by: [tenant]",
                                   "timespan: 1h", "condition: {gt: 1}", "suppress: {for: 30m}"}));
  StatefulStage stage(policy);
  const auto alerts = Parse(Replay(policy,
                                   {{"e1", 0, "release", "A"},
                                    {"e2", 1, "release", "A"},
                                    {"e3", 2, "release", "A"},
                                    {"e4", 3, "release", "A"},
                                    {"e5", 40, "release", "A"},
                                    {"e6", 41, "release", "A"}},
                                   0, &stage));
  EXPECT_EQ(Shape(alerts), (Shapes{"correlation C-E e2", "correlation C-E e6"}));
  EXPECT_EQ(stage.correlation_stats()[0].suppressed, 1u);
}

TEST(StatefulStageTest, SuppressionAndCorrelationOnOneEventInTheDocumentedOrder) {
  auto policy = Build({{"S-1", "suppress: {by: [tenant], for: 1h}"}},
                      Corr("C-E", {"type: event_count", "rules: [S-1]", "group_by: [tenant]",
                                   "timespan: 1h", "condition: {gte: 2}"}));
  StatefulStage stage(policy);
  // e2 is suppressed but still feeds the correlation, which fires on it.
  const auto alerts = Parse(Replay(policy,
                                   {{"e1", 0, "allocate", "A"},
                                    {"e0", 0, "plain", "A"},
                                    {"e2", 5, "allocate", "A"},
                                    {"e3", 70, "plain", "A"}},
                                   0, &stage));
  // e3 raises no stateful match, but its time closes S-1's window: the summary comes first.
  EXPECT_EQ(Shape(alerts), (Shapes{"event S-1 e1", "event P-1 e0", "correlation C-E e2",
                                   "summary S-1 e2", "event P-1 e3"}));
  const auto s = stage.suppression_stats();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].suppressed, 1u);
  EXPECT_EQ(s[0].summaries, 1u);
  EXPECT_EQ(s[0].open_windows, 0u);
}

// A mixed stream over a few keys: the stage's output does not depend on how the workers' output
// was cut.
TEST(StatefulStageTest, OutputDoesNotDependOnBatching) {
  auto policy =
      Build({{"S-1", "suppress: {by: [tenant, source.ip], for: 2h}"}, {"F-1", "alert: false"}},
            Corr("C-V", {"type: value_count", "rules: [F-1, S-1]", "group_by: [node]",
                         "field: tenant", "timespan: 15m", "condition: {gte: 3}"}) +
                Corr("C-T", {"type: temporal", "rules: [T-A, T-B]", "group_by: [tenant]",
                             "timespan: 5m", "suppress: {for: 2m}"}) +
                Corr("C-E", {"type: event_count", "rules: [T-B]", "group_by: [source.ip]",
                             "timespan: 1h", "condition: {gte: 4}"}));
  std::mt19937 rnd(7);
  const char* actions[] = {"allocate", "release", "quota", "launch", "both", "plain", "noop"};
  const char* tenants[] = {"A", "B", "C", "D"};
  const char* nodes[] = {"n0", "n1", "n2"};
  const char* ips[] = {"", "192.0.2.1", "192.0.2.2"};
  std::vector<Ev> events;
  int64_t minute = 0;
  for (int i = 0; i < 600; ++i) {
    minute += rnd() % 3;
    // Some out of order by up to 20 minutes: late matches, windows closed by other keys' times.
    const int64_t at = (rnd() % 10 == 0) ? minute - static_cast<int64_t>(rnd() % 20) : minute;
    events.push_back(Ev{"e" + std::to_string(i), at, actions[rnd() % 7], tenants[rnd() % 4],
                        ips[rnd() % 3], "u" + std::to_string(i), nodes[rnd() % 3]});
  }
  const std::string whole = Replay(policy, events);
  const auto alerts = Parse(whole);
  size_t kinds[3] = {0, 0, 0};
  for (const Alert& a : alerts) ++kinds[a.kind == "event" ? 0 : a.kind == "correlation" ? 1 : 2];
  EXPECT_GT(kinds[0], 50u);
  EXPECT_GT(kinds[1], 5u);
  EXPECT_GT(kinds[2], 5u);
  for (size_t per : {1, 2, 7, 64, 599}) {
    EXPECT_EQ(Replay(policy, events, per), whole) << per << " events per output";
  }
}

// Processes `events` through `stage` (one output per event) without flushing; the text written.
std::string Feed(const std::shared_ptr<const LoadedPolicy>& policy, StatefulStage& stage,
                 const std::vector<Ev>& events, size_t first_line) {
  EventProcessor processor(policy, nullptr);
  ProcessorOutput in, out;
  for (size_t i = 0; i < events.size(); ++i) {
    std::string padded = Json(events[i]);
    const size_t size = padded.size();
    padded.append(kInputPadding, '\0');
    Origin origin;
    origin.file = "t.jsonl";
    origin.line = first_line + i;
    processor.Process(std::string_view(padded.data(), size), padded.size(), Format::kGpuAlloc,
                      origin, in);
    stage.Process(in, out);
  }
  std::string text = std::move(out.alerts);
  return text;
}

std::string FlushText(StatefulStage& stage) {
  ProcessorOutput out;
  stage.Flush(out);
  return out.alerts;
}

// The mixed stream of OutputDoesNotDependOnBatching, smaller.
std::vector<Ev> MixedEvents(int count) {
  std::mt19937 rnd(11);
  const char* actions[] = {"allocate", "release", "quota", "launch", "both", "plain", "noop"};
  const char* tenants[] = {"A", "B", "C"};
  const char* ips[] = {"", "192.0.2.1", "192.0.2.2"};
  std::vector<Ev> events;
  for (int i = 0; i < count; ++i) {
    events.push_back(Ev{"e" + std::to_string(i), i / 2, actions[rnd() % 7], tenants[rnd() % 3],
                        ips[rnd() % 3], "u" + std::to_string(i), "n" + std::to_string(rnd() % 2)});
  }
  return events;
}

std::shared_ptr<const LoadedPolicy> MixedPolicy(const std::string& quiet = "2m") {
  return Build({{"S-1", "suppress: {by: [tenant, source.ip], for: 30m}"}, {"F-1", "alert: false"}},
               Corr("C-V", {"type: value_count", "rules: [F-1, S-1]", "group_by: [node]",
                            "field: tenant", "timespan: 15m", "condition: {gte: 3}"}) +
                   Corr("C-T", {"type: temporal", "rules: [T-A, T-B]", "group_by: [tenant]",
                                "timespan: 5m", "suppress: {for: " + quiet + "}"}));
}

// A stage saved half way (through the snapshot file's encoding) and restored into a new one goes on
// exactly as one that never stopped.
TEST(StatefulSnapshotTest, ARestoredStageContinuesExactly) {
  auto policy = MixedPolicy();
  const std::vector<Ev> events = MixedEvents(400);
  const std::vector<Ev> first(events.begin(), events.begin() + 200);
  const std::vector<Ev> second(events.begin() + 200, events.end());
  StatefulStage whole(policy);
  std::string want = Feed(policy, whole, events, 1);
  want += FlushText(whole);  // after Feed: the order of `+`'s operands is unspecified
  ASSERT_GT(Parse(want).size(), 50u);

  StatefulStage before(policy);
  std::string got = Feed(policy, before, first, 1);
  StateSnapshot saved;
  saved.positions.push_back({"t.jsonl", 201});
  before.Save(saved);
  StateSnapshot again;
  again.positions = saved.positions;
  before.Save(again);
  ASSERT_TRUE(EncodeStateSnapshot(saved) == EncodeStateSnapshot(again));  // deterministic
  auto read = DecodeStateSnapshot(EncodeStateSnapshot(saved), "test");
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->sections.size(), 4u);  // C-V, C-T, S-1, @stage

  StatefulStage after(policy);
  auto restored = after.Restore(*read);
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->restored, (std::vector<std::string>{"C-V", "C-T", "S-1"}));
  EXPECT_TRUE(restored->fresh.empty());
  got += Feed(policy, after, second, 201);
  got += FlushText(after);
  EXPECT_EQ(got, want);
  const auto a = after.suppression_stats(), w = whole.suppression_stats();
  EXPECT_EQ(a[0].summaries, w[0].summaries);
  EXPECT_EQ(a[0].suppressed, w[0].suppressed);
  EXPECT_EQ(after.correlation_stats()[0].alerts, whole.correlation_stats()[0].alerts);
}

TEST(StatefulSnapshotTest, AChangedDefinitionStartsEmptyAndCorruptDataIsAnError) {
  auto policy = MixedPolicy();
  StatefulStage stage(policy);
  Feed(policy, stage, MixedEvents(100), 1);
  StateSnapshot saved;
  stage.Save(saved);

  auto changed = MixedPolicy("3m");  // C-T's quiet time
  StatefulStage other(changed);
  auto restored = other.Restore(saved);
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(restored->restored, (std::vector<std::string>{"C-V", "S-1"}));
  EXPECT_EQ(restored->fresh, (std::vector<std::string>{"C-T"}));
  EXPECT_EQ(other.correlation_stats()[1].groups, 0u);
  EXPECT_GT(other.correlation_stats()[0].groups, 0u);

  std::string bytes(saved.sections[2].data);  // S-1
  bytes.resize(bytes.size() - 3);
  StateSnapshot corrupt = saved;
  corrupt.sections[2].data = bytes;
  StatefulStage third(policy);
  auto failed = third.Restore(corrupt);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("state of S-1: "), std::string::npos)
      << failed.status().message();
  EXPECT_EQ(third.correlation_stats()[0].groups, 0u);  // as new
  EXPECT_EQ(third.max_time_ms(), std::numeric_limits<int64_t>::min());
}

// A reload keeps the state of every definition it did not change, and drops the others: a
// dropped suppression's windows are summed up first.
TEST(StatefulStageTest, RebuildKeepsUnchangedDefinitionsAndDropsChangedOnes) {
  auto policy = [](const std::string& suppress_for, int threshold, bool temporal) {
    std::string correlations =
        Corr("C-E", {"type: event_count", "rules: [T-A]", "group_by: [tenant]", "timespan: 1h",
                     "condition: {gte: " + std::to_string(threshold) + "}"});
    if (temporal) {
      correlations += Corr(
          "C-T", {"type: temporal", "rules: [T-A, T-B]", "group_by: [tenant]", "timespan: 1h"});
    }
    return Build({{"S-1", "suppress: {by: [tenant], for: " + suppress_for + "}"}}, correlations);
  };
  auto first = std::make_unique<StatefulStage>(policy("1h", 2, false));
  EXPECT_EQ(
      Shape(Parse(Feed(
          first->loaded_policy(), *first,
          {{"e1", 0, "allocate", "A"}, {"e2", 1, "allocate", "A"}, {"e3", 2, "quota", "A"}}, 1))),
      (Shapes{"event S-1 e1", "event T-A e3"}));
  // The same definitions from another load (and a new correlation): the state carries over.
  ProcessorOutput out;
  StatefulStage::RebuildReport report;
  auto second = StatefulStage::Rebuild(*first, policy("1h", 2, true), out, report);
  EXPECT_TRUE(out.refs.empty());
  EXPECT_EQ(report.kept, (std::vector<std::string>{"S-1", "C-E"}));
  EXPECT_EQ(report.added, (std::vector<std::string>{"C-T"}));
  EXPECT_TRUE(report.dropped.empty());
  EXPECT_EQ(second->max_time_ms(), kBase + 2 * kMinute);
  first.reset();  // nothing of its policy is referred to any more
  EXPECT_EQ(Shape(Parse(Feed(second->loaded_policy(), *second,
                             {{"e4", 3, "allocate", "A"}, {"e5", 4, "quota", "A"}}, 1))),
            (Shapes{"event T-A e5", "correlation C-E e5"}));
  EXPECT_EQ(second->suppression_stats()[0].suppressed, 2u);
  EXPECT_EQ(second->correlation_stats()[0].alerts, 1u);
  // `for` and the threshold changed: both states dropped, the open window summed up first.
  report = {};
  auto third = StatefulStage::Rebuild(*second, policy("30m", 3, true), out, report);
  EXPECT_EQ(report.kept, (std::vector<std::string>{"C-T"}));
  EXPECT_EQ(report.dropped, (std::vector<std::string>{"S-1", "C-E"}));
  EXPECT_EQ(report.added, (std::vector<std::string>{"S-1", "C-E"}));
  const auto summaries = Parse(out.alerts);
  ASSERT_EQ(Shape(summaries), (Shapes{"summary S-1 e4"}));
  EXPECT_EQ(summaries[0].count, 2u);
  ASSERT_EQ(out.refs.size(), 1u);
  EXPECT_EQ(out.refs[0].rule_id, "S-1");
  // A fresh window: e6 raises its alert again; C-E counts from zero.
  EXPECT_EQ(Shape(Parse(Feed(third->loaded_policy(), *third,
                             {{"e6", 5, "allocate", "A"}, {"e7", 6, "quota", "A"}}, 1))),
            (Shapes{"event S-1 e6", "event T-A e7"}));
}

TEST(StatefulPolicyTest, RulesAndCorrelationsResolvedWithFingerprints) {
  auto build = [](const std::string& for_text, const std::string& action, int threshold) {
    std::string rules = kRules;
    rules.replace(rules.find("value: allocate"), 15, "value: " + action);
    return Build(
        {{"S-1", "suppress: {by: [tenant], for: " + for_text + "}"}, {"F-1", "alert: false"}},
        Corr("C-E",
             {"type: event_count", "rules: [T-A, T-B]", "group_by: [tenant]", "timespan: 1h",
              "condition: {gte: " + std::to_string(threshold) + "}", "reason: whatever {count}"}),
        StatefulOptions{.max_groups = 5}, rules);
  };
  auto p = build("1h", "allocate", 2);
  const StatefulPolicy& s = *p->stateful;
  EXPECT_FALSE(s.empty());
  ASSERT_EQ(s.suppressions().size(), 1u);
  ASSERT_EQ(s.correlations().size(), 1u);
  EXPECT_EQ(s.correlations()[0].spec.max_groups, 5u);
  EXPECT_EQ(s.suppressions()[0].max_keys, 5u);
  const auto& rules = p->rules->rules();
  auto rule = [&](const std::string& id) { return s.rule(s.RuleIndex(*p->rules->FindRule(id))); };
  EXPECT_EQ(rule("S-1").suppression, 0);
  EXPECT_TRUE(rule("F-1").stateful);
  EXPECT_FALSE(rule("F-1").alert);
  EXPECT_EQ(rule("T-A").feeds, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 1}}));
  EXPECT_EQ(rule("T-B").feeds, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 2}}));
  EXPECT_FALSE(rule("P-1").stateful);
  EXPECT_EQ(rules.size(), 5u);

  auto same = build("60m", "allocate", 2);  // the same duration written otherwise
  EXPECT_EQ(same->stateful->suppressions()[0].fingerprint, s.suppressions()[0].fingerprint);
  EXPECT_EQ(same->stateful->correlations()[0].fingerprint, s.correlations()[0].fingerprint);
  auto longer = build("2h", "allocate", 2);
  EXPECT_NE(longer->stateful->suppressions()[0].fingerprint, s.suppressions()[0].fingerprint);
  auto other = build("1h", "other", 3);
  EXPECT_NE(other->stateful->suppressions()[0].fingerprint, s.suppressions()[0].fingerprint);
  EXPECT_NE(other->stateful->correlations()[0].fingerprint, s.correlations()[0].fingerprint);
}

TEST(StatefulPolicyTest, APolicyWithoutStatefulRulesRecordsNothing) {
  auto policy = Build({});
  EXPECT_TRUE(policy->stateful->empty());
  EventProcessor processor(policy, nullptr);
  std::string padded = Json({"e1", 0, "allocate", "A"});
  const size_t size = padded.size();
  padded.append(kInputPadding, '\0');
  ProcessorOutput out;
  processor.Process(std::string_view(padded.data(), size), padded.size(), Format::kGpuAlloc,
                    Origin{}, out);
  EXPECT_EQ(out.alert_count, 1u);
  EXPECT_TRUE(out.records.empty());
  EXPECT_EQ(out.max_time_ms, kBase);
}

// The worker copies an event alert's fragments instead of rendering them again: the same bytes.
TEST(StatefulPolicyTest, AlertSpansHoldTheFragments) {
  auto policy = Build({});
  EventProcessor processor(policy, nullptr);
  std::optional<std::string> checked;
  processor.set_observer([&](const Event& e, const std::vector<RuleMatch>& matches) {
    ASSERT_EQ(matches.size(), 1u);
    std::string alert, event, matched, origin;
    AlertJsonSpans at;
    AppendAlertJson(alert, *matches[0].rule, matches[0].severity, e, "why", &at);
    AppendEventFragment(event, e);
    AppendMatchedFragment(matched, e);
    AppendOriginFragment(origin, e.origin);
    EXPECT_EQ(alert.substr(at.event_begin, at.event_end - at.event_begin), event);
    EXPECT_EQ(alert.substr(at.matched_begin, at.matched_end - at.matched_begin), matched);
    EXPECT_EQ(alert.substr(at.origin_begin, at.origin_end - at.origin_begin), origin);
    EXPECT_TRUE(event.starts_with(R"("event_id":"e1","event_time":)")) << event;
    EXPECT_TRUE(matched.starts_with(R"("matched":[)")) << matched;
    EXPECT_TRUE(origin.starts_with(R"("origin":{"file":"f","line":3,)")) << origin;
    checked = alert;
  });
  std::string padded = Json({"e1", 0, "allocate", "A", "192.0.2.1"});
  const size_t size = padded.size();
  padded.append(kInputPadding, '\0');
  Origin origin;
  origin.file = "f";
  origin.line = 3;
  ProcessorOutput out;
  processor.Process(std::string_view(padded.data(), size), padded.size(), Format::kGpuAlloc, origin,
                    out);
  ASSERT_TRUE(checked.has_value());
}

TEST(StatefulPolicyTest, DurationsAreWrittenAsTheSyntaxWritesThem) {
  EXPECT_EQ(FormatDurationMs(86400000), "1d");
  EXPECT_EQ(FormatDurationMs(2 * 3600000), "2h");
  EXPECT_EQ(FormatDurationMs(90000), "90s");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
}

}  // namespace
}  // namespace chipwatch
