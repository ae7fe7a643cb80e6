// `chipwatch test`: run the test events that rules and correlations carry and report pass/fail.
//
// Single-event tests: the record through one processor; `expect: alert` means the rule matched
// (whether or not it raises alerts of its own). Multi-event tests (`events:` with `expect:` a list
// of alerts): the records in order through a processor and a fresh stateful stage, flushed at the
// end, as replay does; the alerts of the test's owner and of every rule named in `expect` must be
// exactly those listed, in order (kind, rule, the listed group fields, count).
#include <simdjson.h>

#include <algorithm>

#include "app/commands.h"
#include "engine/input_reader.h"
#include "engine/policy.h"
#include "engine/processor.h"
#include "engine/stateful.h"

namespace chipwatch {

namespace {

struct TestOutcome {
  bool passed = false;
  std::string detail;  // why it failed
};

TestOutcome RunOne(EventProcessor& processor, const RuleDef& rule, const RuleTestDef& test) {
  TestOutcome outcome;
  std::vector<FieldOverride> overrides;
  for (const auto& [name, value] : test.enrich) {
    auto field = FieldByName(name);
    if (!field) {
      outcome.detail = "unknown field in enrich: " + name;
      return outcome;
    }
    overrides.push_back({*field, value});
  }
  processor.set_overrides(std::move(overrides));

  // A match counts as the alert the test expects, whether or not the rule raises alerts of its
  // own (`alert: false` rules feed correlations; the observer sees their matches all the same),
  // and before any suppression (a single event opens a window: its alert is raised).
  bool fired = false;
  std::optional<Severity> severity;
  size_t events = 0;
  processor.set_observer([&](const Event&, const std::vector<RuleMatch>& matches) {
    ++events;
    for (const RuleMatch& m : matches) {
      if (m.rule->id == rule.id) {
        fired = true;
        severity = m.severity;
      }
    }
  });

  std::string padded = test.event_json;
  const size_t size = padded.size();
  padded.append(kInputPadding, '\0');
  Origin origin;
  origin.file = test.pos.file;
  origin.line = static_cast<uint64_t>(test.pos.line);
  ProcessorOutput output;
  processor.Process(std::string_view(padded.data(), size), padded.size(), test.format, origin,
                    output);
  processor.set_observer(nullptr);
  processor.set_overrides({});

  if (!output.failures.empty()) {
    const DecodeFailure& f = output.failures.front();
    outcome.detail = "test event does not decode: " + std::string(DecodeErrorReasonName(f.reason)) +
                     ": " + f.message;
    return outcome;
  }
  if (events == 0) {
    outcome.detail = "test event holds no record";
    return outcome;
  }
  if (fired != test.expect_alert) {
    outcome.detail = test.expect_alert ? "expected an alert, got none"
                                       : "expected no alert, got one (" +
                                             std::string(SeverityName(*severity)) + ")";
    return outcome;
  }
  if (fired && test.expect_severity && *test.expect_severity != *severity) {
    outcome.detail = "expected severity " + std::string(SeverityName(*test.expect_severity)) +
                     ", got " + std::string(SeverityName(*severity));
    return outcome;
  }
  outcome.passed = true;
  return outcome;
}

// ---- Multi-event tests -------------------------------------------------------------------------

// One alert as a multi-event test compares it.
struct SeenAlert {
  std::string kind, rule;
  std::vector<std::pair<std::string, std::string>> group;  // field -> value as text (null: "null")
  std::optional<uint64_t> count;
};

std::string Describe(const SeenAlert& a) {
  std::string s = a.kind + " " + a.rule;
  if (!a.group.empty()) {
    s += " group {";
    for (size_t i = 0; i < a.group.size(); ++i) {
      s += (i > 0 ? ", " : "") + a.group[i].first + ": " + a.group[i].second;
    }
    s += "}";
  }
  if (a.count) s += " count " + std::to_string(*a.count);
  return s;
}

std::string JsonText(simdjson::dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return simdjson::minify(v);  // numbers, true/false, null
}

std::optional<SeenAlert> ReadAlert(simdjson::dom::parser& parser, std::string_view json) {
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  SeenAlert a;
  std::string_view kind, rule;
  if (doc["kind"].get_string().get(kind) || doc["rule_id"].get_string().get(rule)) {
    return std::nullopt;
  }
  a.kind = kind;
  a.rule = rule;
  simdjson::dom::object group;
  if (doc["group"].get_object().get(group) == simdjson::SUCCESS) {
    for (auto field : group) a.group.emplace_back(std::string(field.key), JsonText(field.value));
  }
  uint64_t count = 0;
  if (doc["count"].get_uint64().get(count) == simdjson::SUCCESS) a.count = count;
  return a;
}

// Whether `got` is what `want` lists: same kind and rule, the listed group fields with these
// values, the count when one is listed.
bool Matches(const ExpectedAlertDef& want, const SeenAlert& got) {
  if (want.kind != got.kind || want.rule != got.rule) return false;
  if (want.count && got.count != want.count) return false;
  for (const auto& [field, value] : want.group) {
    auto it = std::find_if(got.group.begin(), got.group.end(),
                           [&](const auto& g) { return g.first == field; });
    if (it == got.group.end() || it->second != value) return false;
  }
  return true;
}

SeenAlert FromExpected(const ExpectedAlertDef& e) {
  return SeenAlert{e.kind, e.rule, e.group, e.count};
}

// "alerts differ": every position, expected and got.
std::string Diff(const std::vector<ExpectedAlertDef>& want, const std::vector<SeenAlert>& got) {
  std::string d = "alerts differ (expected " + std::to_string(want.size()) + ", got " +
                  std::to_string(got.size()) + ")";
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    const std::string n = std::to_string(i + 1) + ". ";
    if (i < want.size() && i < got.size() && Matches(want[i], got[i])) {
      d += "\n      " + n + "ok       " + Describe(got[i]);
      continue;
    }
    d += "\n      " + n + "expected " + (i < want.size() ? Describe(FromExpected(want[i])) : "-");
    d += "\n      " + std::string(n.size(), ' ') + "got      " +
         (i < got.size() ? Describe(got[i]) : "-");
  }
  return d;
}

// Feeds one test event through `processor` into `in`; an error message if it cannot.
std::string FeedEvent(EventProcessor& processor, const TestEventDef& ev, size_t index,
                      ProcessorOutput& in) {
  const std::string which = "event " + std::to_string(index + 1) + " (" + ev.pos.ToString() + ")";
  std::vector<FieldOverride> overrides;
  for (const auto& [name, value] : ev.enrich) {
    auto field = FieldByName(name);
    if (!field) return which + ": unknown field in enrich: " + name;
    overrides.push_back({*field, value});
  }
  processor.set_overrides(std::move(overrides));
  std::string padded = ev.event_json;
  const size_t size = padded.size();
  padded.append(kInputPadding, '\0');
  Origin origin;
  origin.file = ev.pos.file;
  origin.line = static_cast<uint64_t>(ev.pos.line);
  const uint64_t before = in.events;
  processor.Process(std::string_view(padded.data(), size), padded.size(), ev.format, origin, in);
  processor.set_overrides({});
  if (!in.failures.empty()) {
    const DecodeFailure& f = in.failures.front();
    return which + " does not decode: " + std::string(DecodeErrorReasonName(f.reason)) + ": " +
           f.message;
  }
  if (in.events == before) return which + " holds no record";
  return "";
}

TestOutcome RunMultiEvent(const std::shared_ptr<const LoadedPolicy>& policy,
                          EventProcessor& processor, const std::string& owner,
                          const RuleTestDef& test) {
  TestOutcome outcome;
  StatefulStage stage(policy);
  ProcessorOutput in, out;
  for (size_t i = 0; i < test.events.size(); ++i) {
    outcome.detail = FeedEvent(processor, test.events[i], i, in);
    if (!outcome.detail.empty()) return outcome;
    stage.Process(in, out);
  }
  stage.Flush(out);
  // The owner's alerts and those of every rule the test names, in output order.
  auto watched = [&](std::string_view id) {
    return id == owner || std::any_of(test.expected.begin(), test.expected.end(),
                                      [&](const ExpectedAlertDef& e) { return e.rule == id; });
  };
  std::vector<SeenAlert> got;
  simdjson::dom::parser parser;
  for (const AlertRef& ref : out.refs) {
    if (!watched(ref.rule_id)) continue;
    auto alert = ReadAlert(parser, out.AlertJson(ref));
    if (!alert) {
      outcome.detail = "unreadable alert: " + std::string(out.AlertJson(ref));
      return outcome;
    }
    got.push_back(std::move(*alert));
  }
  bool same = got.size() == test.expected.size();
  for (size_t i = 0; same && i < got.size(); ++i) same = Matches(test.expected[i], got[i]);
  if (!same) {
    outcome.detail = Diff(test.expected, got);
    return outcome;
  }
  outcome.passed = true;
  return outcome;
}

// ---- Per owner --------------------------------------------------------------------------------

struct TestTally {
  size_t passed = 0, failed = 0;
};

// Runs an owner's (rule's or correlation's) tests and prints its PASS or FAIL line.
void RunTestsOf(const std::shared_ptr<const LoadedPolicy>& policy, EventProcessor& processor,
                const std::string& id, const RuleDef* rule, const std::vector<RuleTestDef>& tests,
                bool verbose, std::FILE* out, TestTally& tally) {
  size_t failed = 0, multi = 0;
  for (const RuleTestDef& test : tests) {
    multi += test.multi_event ? 1 : 0;
    TestOutcome outcome = test.multi_event || rule == nullptr
                              ? RunMultiEvent(policy, processor, id, test)
                              : RunOne(processor, *rule, test);
    if (outcome.passed) {
      ++tally.passed;
      if (verbose) std::fprintf(out, "  ok   %s  %s\n", id.c_str(), test.name.c_str());
    } else {
      ++tally.failed;
      ++failed;
      std::fprintf(out, "  FAIL %s  %s  %s: %s\n", id.c_str(), test.name.c_str(),
                   test.pos.ToString().c_str(), outcome.detail.c_str());
    }
  }
  const char* verdict = failed > 0 ? "FAIL" : "PASS";
  if (multi > 0 && rule != nullptr) {
    std::fprintf(out, "%s %s (%zu tests, %zu multi-event)\n", verdict, id.c_str(), tests.size(),
                 multi);
  } else {
    std::fprintf(out, "%s %s (%zu tests)\n", verdict, id.c_str(), tests.size());
  }
}

}  // namespace

int RunRuleTests(const TestOptions& options, std::FILE* out, std::FILE* err) {
  Diagnostics diags;
  auto policy = LoadPolicy(options.rules.empty() ? DefaultRulePaths() : options.rules, diags);
  for (const Diagnostic& d : diags.items()) {
    if (d.level == Diagnostic::Level::kError) std::fprintf(err, "%s\n", d.ToString().c_str());
  }
  if (policy == nullptr) {
    std::fprintf(err, "chipwatch test: the rules have %zu error(s); no test was run\n",
                 diags.error_count());
    return kExitUsage;
  }
  const PolicyDefinitions& defs = *policy->defs;
  auto selected = [&](const std::string& id) {
    return options.only.empty() ||
           std::find(options.only.begin(), options.only.end(), id) != options.only.end();
  };
  for (const std::string& id : options.only) {
    bool known = std::any_of(defs.rules.begin(), defs.rules.end(),
                             [&](const RuleDef& r) { return r.id == id; }) ||
                 std::any_of(defs.correlations.begin(), defs.correlations.end(),
                             [&](const CorrelationDef& c) { return c.id == id; });
    if (!known) {
      std::fprintf(err, "chipwatch test: no rule or correlation has id %s\n", id.c_str());
      return kExitUsage;
    }
  }

  EventProcessor processor(policy, nullptr);
  TestTally tally;
  size_t rules_run = 0, untested = 0, correlations_run = 0;
  for (const RuleDef& rule : defs.rules) {
    if (!selected(rule.id)) continue;
    ++rules_run;
    if (rule.tests.empty()) {
      ++untested;
      std::fprintf(out, "NOTEST %s  %s: the rule carries no tests\n", rule.id.c_str(),
                   rule.pos.ToString().c_str());
      continue;
    }
    RunTestsOf(policy, processor, rule.id, &rule, rule.tests, options.verbose, out, tally);
  }
  for (const CorrelationDef& corr : defs.correlations) {
    if (!selected(corr.id)) continue;
    ++correlations_run;
    if (corr.tests.empty()) {
      ++untested;
      std::fprintf(out, "NOTEST %s  %s: the correlation carries no tests\n", corr.id.c_str(),
                   corr.pos.ToString().c_str());
      continue;
    }
    RunTestsOf(policy, processor, corr.id, nullptr, corr.tests, options.verbose, out, tally);
  }
  std::fprintf(out, "chipwatch test: %zu rules, %zu correlations, %zu without tests\n", rules_run,
               correlations_run, untested);
  std::fprintf(out, "%zu passed, %zu failed\n", tally.passed, tally.failed);
  return tally.failed > 0 ? kExitPartial : kExitOk;
}

}  // namespace chipwatch
