// `chipwatch test`: run the test events that rules carry and report pass/fail per rule.
#include <algorithm>

#include "app/commands.h"
#include "engine/input_reader.h"
#include "engine/policy.h"
#include "engine/processor.h"

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
  for (const std::string& id : options.only) {
    bool known = std::any_of(policy->defs->rules.begin(), policy->defs->rules.end(),
                             [&](const RuleDef& r) { return r.id == id; });
    if (!known) {
      std::fprintf(err, "chipwatch test: no rule has id %s\n", id.c_str());
      return kExitUsage;
    }
  }

  EventProcessor processor(policy, nullptr);
  size_t passed = 0, failed = 0, rules_run = 0, untested = 0;
  for (const RuleDef& rule : policy->defs->rules) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), rule.id) == options.only.end()) {
      continue;
    }
    ++rules_run;
    if (rule.tests.empty()) {
      ++untested;
      std::fprintf(out, "NOTEST %s  %s: the rule carries no tests\n", rule.id.c_str(),
                   rule.pos.ToString().c_str());
      continue;
    }
    size_t rule_failed = 0;
    for (const RuleTestDef& test : rule.tests) {
      TestOutcome outcome = RunOne(processor, rule, test);
      if (outcome.passed) {
        ++passed;
        if (options.verbose) {
          std::fprintf(out, "  ok   %s  %s\n", rule.id.c_str(), test.name.c_str());
        }
      } else {
        ++failed;
        ++rule_failed;
        std::fprintf(out, "  FAIL %s  %s  %s: %s\n", rule.id.c_str(), test.name.c_str(),
                     test.pos.ToString().c_str(), outcome.detail.c_str());
      }
    }
    std::fprintf(out, "%s %s (%zu tests)\n", rule_failed == 0 ? "PASS" : "FAIL", rule.id.c_str(),
                 rule.tests.size());
  }
  std::fprintf(out, "chipwatch test: %zu rules, %zu without tests\n", rules_run, untested);
  std::fprintf(out, "%zu passed, %zu failed\n", passed, failed);
  return failed > 0 ? kExitPartial : kExitOk;
}

}  // namespace chipwatch
