// DiagCode: the stable codes of load diagnostics (rule packs and the config), with what each means.
//
// kDiagCodes is the one table of codes: their text (what `chipwatch check` prints in brackets and
// in JSON), which loader reports them and a one-line meaning. The tables in docs/rules.md and
// docs/configuration.md list the same codes with the same meanings, and a unit test
// (tests/unit/core/diagnostic_codes_test.cc) compares them both ways: a new code is one enumerator,
// one row here and one row in the docs. Codes are part of the interface: never rename one.
// Immutable data; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chipwatch {

enum class DiagCode : uint8_t {
  // Both loaders: the YAML walker (yaml/walker.h).
  kYamlSyntax,
  kInternal,
  kUnknownKey,
  kDuplicateKey,
  kMissingKey,
  kWrongType,
  kConflictingKeys,
  // Rule packs: reader (policy/reader.cc).
  kInvalidDate,
  kInvalidDateRange,
  kInvalidSeverity,
  kInvalidFormat,
  kMissingTestEvent,
  kInvalidExpect,
  kConditionTooDeep,
  kEmptyCondition,
  kMissingName,
  kMissingSource,
  kInvalidCorrelationType,
  kKeyNotForType,
  kInvalidThreshold,
  kInvalidGroupBy,
  kInvalidDuration,
  kWindowTooLong,
  kInvalidCorrelationRules,
  // Rule packs: files (policy/loader.cc).
  kMissingPath,
  kIoError,
  kNoRuleFiles,
  // Rule packs: collector (policy/collector.cc) and compiler (match/).
  kDuplicateList,
  kUnknownList,
  kDuplicateMacro,
  kUnknownMacro,
  kMacroCycle,
  kDuplicateRuleId,
  kDuplicateCatalogEntry,
  kOverrideUnknownEntry,
  kUnknownField,
  kTypeMismatch,
  kInvalidNumber,
  kInvalidBool,
  kInvalidCidr,
  kInvalidRegex,
  kInvalidReason,
  kRuleDisabled,
  kRuleWithoutTests,
  kDuplicateCorrelationId,
  kUnknownRule,
  kCorrelationDisabled,
  kCorrelationWithoutTests,
  kDisabledRuleInCorrelation,
  kRuleFeedsNothing,
  kHyperscan,
  // Rule packs: catalogs (enrich/catalog_index.cc).
  kUnknownCatalog,
  kCatalogMissingKey,
  kCatalogMissingSource,
  kCatalogUnknownKey,
  kCatalogBadValue,
  kCatalogBadDates,
  kCatalogUnknownAccelerator,
  kCatalogBadRegex,
  kCatalogOverrideUnknown,
  kCatalogUnclearWithoutReason,
  // The config (config/config.cc).
  kReadError,
  kMultipleDocuments,
  kEmptyConfig,
  kEmptyValue,
  kOutOfRange,
  kUnknownType,
  kUnknownFormat,
  kUnknownValue,
  kNoRules,
  kNoSources,
  kNoSinks,
  kNoTopics,
  kInvalidBrokers,
  kInvalidListen,
  kInvalidTopic,
  kDuplicateTopic,
  kDuplicateCheckpoint,
  kReservedProperty,
  kMissingFile,
  kNotAFile,
  kNotReadable,
  kMissingDirectory,
  kNotWritable,
  kInvalidValue,
  kConflictingProperty,
  kMissingEnv,
  kReadableSecret,
  kInsecureSasl,
  // Enrichment data named by the config or by --geoip/--directory (engine/enrichment.cc,
  // enrich/directory.cc).
  kGeoip,
  kDirectoryIo,
  kDirectoryHeader,
  kCsvSyntax,
  kDirectoryRow,
  kDirectoryDuplicate,
  // The config and the policy together (app/check.cc).
  kStateInMemory,
};

// Which loader reports a code: its table is in docs/rules.md, docs/configuration.md or both.
enum DiagScope : uint8_t { kRulesScope = 1, kConfigScope = 2, kBothScopes = 3 };

struct DiagCodeInfo {
  DiagCode code;
  std::string_view name;     // as printed: "wrong-type"
  uint8_t scopes;            // DiagScope bits
  std::string_view meaning;  // the docs' "meaning" column, verbatim
};

// In enumerator order (checked below).
inline constexpr DiagCodeInfo kDiagCodes[] = {
    {DiagCode::kYamlSyntax, "yaml-syntax", kBothScopes, "the file is not valid YAML"},
    {DiagCode::kInternal, "internal", kBothScopes,
     "the loader failed unexpectedly (out of memory, an unexpected yaml-cpp error); please report "
     "it"},
    {DiagCode::kUnknownKey, "unknown-key", kBothScopes,
     "a key not allowed at that place; the message lists the allowed keys"},
    {DiagCode::kDuplicateKey, "duplicate-key", kBothScopes, "a key given twice in one mapping"},
    {DiagCode::kMissingKey, "missing-key", kBothScopes, "a required key is absent"},
    {DiagCode::kWrongType, "wrong-type", kBothScopes,
     "a value of the wrong kind (a scalar, sequence or mapping where another is expected, a key "
     "that is not a scalar, an empty name)"},
    {DiagCode::kConflictingKeys, "conflicting-keys", kBothScopes,
     "keys that exclude each other are both given (`event` and `event_json`, `list` and `items`, "
     "two operators in one condition, `password_file` and `password_env`)"},
    {DiagCode::kInvalidDate, "invalid-date", kRulesScope,
     "`effective_from` or `effective_until` is not a date YYYY-MM-DD"},
    {DiagCode::kInvalidDateRange, "invalid-date-range", kRulesScope,
     "`effective_until` is not after `effective_from`"},
    {DiagCode::kInvalidSeverity, "invalid-severity", kRulesScope,
     "a severity that is not info, low, medium, high or critical"},
    {DiagCode::kInvalidFormat, "invalid-format", kRulesScope, "a rule test's unknown `format`"},
    {DiagCode::kMissingTestEvent, "missing-test-event", kRulesScope,
     "a rule test has neither `event` nor `event_json` (or one of `events` has neither), or a "
     "multi-event test has no `events`"},
    {DiagCode::kInvalidExpect, "invalid-expect", kRulesScope,
     "a rule test's `expect` is absent or not `alert` or `none`; in a multi-event test, an "
     "expected alert whose `kind` is not event, correlation or summary or that its `rule` cannot "
     "raise"},
    {DiagCode::kConditionTooDeep, "condition-too-deep", kRulesScope,
     "a condition nested deeper than 64 levels"},
    {DiagCode::kEmptyCondition, "empty-condition", kRulesScope,
     "a condition without an operator, `all`/`any` without conditions, `in`/`cidr` without items"},
    {DiagCode::kMissingName, "missing-name", kRulesScope,
     "a catalog entry without `name` (or `pattern`, where one may stand for it)"},
    {DiagCode::kMissingSource, "missing-source", kRulesScope,
     "a catalog entry without `source` (every entry cites one)"},
    {DiagCode::kInvalidCorrelationType, "invalid-correlation-type", kRulesScope,
     "a correlation's `type` that is not event_count, value_count or temporal"},
    {DiagCode::kKeyNotForType, "key-not-for-type", kRulesScope,
     "a correlation key its `type` does not take (`field` on event_count or temporal, "
     "`condition` on temporal)"},
    {DiagCode::kInvalidThreshold, "invalid-threshold", kRulesScope,
     "a correlation's `condition` is not `{gte: N}` or `{gt: N}` with N a positive integer"},
    {DiagCode::kInvalidGroupBy, "invalid-group-by", kRulesScope,
     "`group_by` or `suppress.by` without a field or with one twice, `group_by` with more than 3 "
     "fields or with the counted `field` among them"},
    {DiagCode::kInvalidDuration, "invalid-duration", kRulesScope,
     "a `timespan` or `suppress.for` that is not a positive integer followed by s, m, h or d"},
    {DiagCode::kWindowTooLong, "window-too-long", kRulesScope,
     "a `timespan` or `suppress.for` over 30 days"},
    {DiagCode::kInvalidCorrelationRules, "invalid-correlation-rules", kRulesScope,
     "a correlation's `rules` is empty or names a rule twice, or a temporal one names fewer than 2 "
     "or more than 32"},
    {DiagCode::kMissingPath, "missing-path", kRulesScope, "a rules path does not exist"},
    {DiagCode::kIoError, "io-error", kRulesScope, "a rule file or directory cannot be read"},
    {DiagCode::kNoRuleFiles, "no-rule-files", kRulesScope,
     "warning: a rules directory holds no `*.yaml` file"},
    {DiagCode::kDuplicateList, "duplicate-list", kRulesScope,
     "a list defined again without `append: true`"},
    {DiagCode::kUnknownList, "unknown-list", kRulesScope,
     "a condition names an undefined list, or `append: true` extends one"},
    {DiagCode::kDuplicateMacro, "duplicate-macro", kRulesScope, "a macro defined twice"},
    {DiagCode::kUnknownMacro, "unknown-macro", kRulesScope, "a condition names an undefined macro"},
    {DiagCode::kMacroCycle, "macro-cycle", kRulesScope, "macros that use each other in a cycle"},
    {DiagCode::kDuplicateRuleId, "duplicate-rule-id", kRulesScope, "two rules with one `id`"},
    {DiagCode::kDuplicateCatalogEntry, "duplicate-catalog-entry", kRulesScope,
     "a catalog entry defined again without `override: true`"},
    {DiagCode::kOverrideUnknownEntry, "override-unknown-entry", kRulesScope,
     "`override: true` for a catalog entry no earlier file defines"},
    {DiagCode::kUnknownField, "unknown-field", kRulesScope,
     "a field name not in the field table (in a condition, `severity_from`, `group_by`, `field`, "
     "`suppress.by`, a test's `enrich` or an expected alert's `group`)"},
    {DiagCode::kTypeMismatch, "type-mismatch", kRulesScope,
     "an operator on a field of the wrong type (`cidr` on a string, `gt` on an ip)"},
    {DiagCode::kInvalidNumber, "invalid-number", kRulesScope,
     "a comparison whose value is not a number"},
    {DiagCode::kInvalidBool, "invalid-bool", kRulesScope,
     "`equals` on a bool field with a value other than true or false"},
    {DiagCode::kInvalidCidr, "invalid-cidr", kRulesScope,
     "an address or CIDR block that does not parse"},
    {DiagCode::kInvalidRegex, "invalid-regex", kRulesScope,
     "a `regex` pattern that does not compile"},
    {DiagCode::kInvalidReason, "invalid-reason", kRulesScope,
     "a `reason` template names an unknown field, or a correlation's `{group.X}` a field not in "
     "its `group_by`"},
    {DiagCode::kRuleDisabled, "rule-disabled", kRulesScope, "warning: a rule has `enabled: false`"},
    {DiagCode::kRuleWithoutTests, "rule-without-tests", kRulesScope,
     "warning: a rule has no `tests`"},
    {DiagCode::kDuplicateCorrelationId, "duplicate-correlation-id", kRulesScope,
     "two correlations with one `id`, or a correlation with a rule's `id`"},
    {DiagCode::kUnknownRule, "unknown-rule", kRulesScope,
     "a correlation's `rules`, or a test's expected alert, names an id that is no rule (or "
     "correlation) of the policy"},
    {DiagCode::kCorrelationDisabled, "correlation-disabled", kRulesScope,
     "warning: a correlation has `enabled: false`"},
    {DiagCode::kCorrelationWithoutTests, "correlation-without-tests", kRulesScope,
     "warning: a correlation has no `tests`"},
    {DiagCode::kDisabledRuleInCorrelation, "disabled-rule-in-correlation", kRulesScope,
     "warning: a correlation lists a rule that has `enabled: false`"},
    {DiagCode::kRuleFeedsNothing, "rule-feeds-nothing", kRulesScope,
     "warning: a rule has `alert: false` and no correlation lists it (it raises nothing)"},
    {DiagCode::kHyperscan, "hyperscan", kRulesScope,
     "Hyperscan cannot compile the rules' patterns or allocate scratch space"},
    {DiagCode::kUnknownCatalog, "unknown-catalog", kRulesScope, "a catalog name that is not known"},
    {DiagCode::kCatalogMissingKey, "catalog-missing-key", kRulesScope,
     "a catalog entry lacks a key its catalog requires"},
    {DiagCode::kCatalogMissingSource, "catalog-missing-source", kRulesScope,
     "a catalog entry without `source` (checked again when the catalogs are indexed)"},
    {DiagCode::kCatalogUnknownKey, "catalog-unknown-key", kRulesScope,
     "a key that entries of that catalog do not take"},
    {DiagCode::kCatalogBadValue, "catalog-bad-value", kRulesScope,
     "a catalog value that is not one of the allowed names or numbers"},
    {DiagCode::kCatalogBadDates, "catalog-bad-dates", kRulesScope,
     "a catalog entry's `effective_until` is not after its `effective_from`"},
    {DiagCode::kCatalogUnknownAccelerator, "catalog-unknown-accelerator", kRulesScope,
     "an `instance_types` entry names an accelerator that is not an `accelerators` entry"},
    {DiagCode::kCatalogBadRegex, "catalog-bad-regex", kRulesScope,
     "a catalog `match` or `pattern` regex that is empty or does not compile"},
    {DiagCode::kCatalogOverrideUnknown, "catalog-override-unknown", kRulesScope,
     "`override: true` on a catalog entry without a name or without an earlier entry"},
    {DiagCode::kCatalogUnclearWithoutReason, "catalog-unclear-without-reason", kRulesScope,
     "warning: a catalog entry of unclear status says nothing about why"},
    {DiagCode::kReadError, "read-error", kConfigScope,
     "the config file, or a `password_file`, cannot be read"},
    {DiagCode::kMultipleDocuments, "multiple-documents", kConfigScope,
     "the file holds more than one YAML document"},
    {DiagCode::kEmptyConfig, "empty-config", kConfigScope, "the file holds no YAML document"},
    {DiagCode::kEmptyValue, "empty-value", kConfigScope,
     "an empty value, or an empty password file or variable"},
    {DiagCode::kOutOfRange, "out-of-range", kConfigScope, "an integer outside its range"},
    {DiagCode::kUnknownType, "unknown-type", kConfigScope,
     "a source, sink or dead-letter `type` that is not one of the listed names"},
    {DiagCode::kUnknownFormat, "unknown-format", kConfigScope,
     "a `format` that is not one of the listed names"},
    {DiagCode::kUnknownValue, "unknown-value", kConfigScope,
     "a value that is not one of the listed names"},
    {DiagCode::kNoRules, "no-rules", kConfigScope, "`rules` names no file or directory"},
    {DiagCode::kNoSources, "no-sources", kConfigScope, "`sources` is empty"},
    {DiagCode::kNoSinks, "no-sinks", kConfigScope, "`sinks` is empty"},
    {DiagCode::kNoTopics, "no-topics", kConfigScope, "a Kafka source's `topics` is empty"},
    {DiagCode::kInvalidBrokers, "invalid-brokers", kConfigScope,
     "`brokers` is not a `host:port` list"},
    {DiagCode::kInvalidListen, "invalid-listen", kConfigScope,
     "`metrics.listen` is not `host:port`"},
    {DiagCode::kInvalidTopic, "invalid-topic", kConfigScope, "not a Kafka topic name"},
    {DiagCode::kDuplicateTopic, "duplicate-topic", kConfigScope,
     "a topic listed twice in one source"},
    {DiagCode::kDuplicateCheckpoint, "duplicate-checkpoint", kConfigScope,
     "two file sources share one `checkpoint`"},
    {DiagCode::kReservedProperty, "reserved-property", kConfigScope,
     "a librdkafka property chipwatch sets from its own keys"},
    {DiagCode::kMissingFile, "missing-file", kConfigScope, "a file or directory to read is absent"},
    {DiagCode::kNotAFile, "not-a-file", kConfigScope,
     "a path that must be a regular file is a directory or another kind of file"},
    {DiagCode::kNotReadable, "not-readable", kConfigScope, "a file to read is not readable"},
    {DiagCode::kMissingDirectory, "missing-directory", kConfigScope,
     "the directory of a file to write does not exist (a warning for a followed source file)"},
    {DiagCode::kNotWritable, "not-writable", kConfigScope,
     "a file to write, or its directory, is not writable"},
    {DiagCode::kInvalidValue, "invalid-value", kConfigScope,
     "a combination that cannot work (`start_at: end` without `follow: true`, `ca_file` with "
     "protocol `plaintext`)"},
    {DiagCode::kConflictingProperty, "conflicting-property", kConfigScope,
     "a Kafka `properties` entry sets what the `security` block sets"},
    {DiagCode::kMissingEnv, "missing-env", kConfigScope,
     "`password_env` names an unset environment variable"},
    {DiagCode::kReadableSecret, "readable-secret", kConfigScope,
     "warning: a `password_file` or `key_file` is readable by its group or by everyone"},
    {DiagCode::kInsecureSasl, "insecure-sasl", kConfigScope,
     "warning: `mechanism: PLAIN` with protocol `sasl_plaintext` (the password crosses the "
     "network unencrypted)"},
    {DiagCode::kGeoip, "geoip", kConfigScope,
     "the GeoIP database cannot be opened or is not a MaxMind country or city database"},
    {DiagCode::kDirectoryIo, "directory-io", kConfigScope,
     "the tenant directory file cannot be read"},
    {DiagCode::kDirectoryHeader, "directory-header", kConfigScope,
     "the tenant directory has no header row, a column twice or lacks a required column"},
    {DiagCode::kCsvSyntax, "csv-syntax", kConfigScope,
     "a tenant directory line is not valid CSV (a stray or unterminated quote)"},
    {DiagCode::kDirectoryRow, "directory-row", kConfigScope,
     "a tenant directory row with the wrong number of fields, an empty tenant or a country that "
     "is not ISO 3166 alpha-2"},
    {DiagCode::kDirectoryDuplicate, "directory-duplicate", kConfigScope,
     "a tenant listed twice in the directory (the first entry is kept)"},
    {DiagCode::kStateInMemory, "state-in-memory", kConfigScope,
     "warning: the policy has correlations or suppression but `state.path` is not set, or this "
     "version does not write its snapshots yet (their windows are lost on restart)"},
};

inline constexpr size_t kDiagCodeCount = sizeof(kDiagCodes) / sizeof(kDiagCodes[0]);

namespace diag_codes_internal {
consteval bool InEnumOrder() {
  for (size_t i = 0; i < kDiagCodeCount; ++i) {
    if (static_cast<size_t>(kDiagCodes[i].code) != i) return false;
  }
  return static_cast<size_t>(DiagCode::kStateInMemory) + 1 == kDiagCodeCount;
}
}  // namespace diag_codes_internal
static_assert(diag_codes_internal::InEnumOrder(), "kDiagCodes must list every DiagCode, in order");

// "wrong-type" for DiagCode::kWrongType.
constexpr std::string_view DiagCodeName(DiagCode code) {
  return kDiagCodes[static_cast<size_t>(code)].name;
}

// The code as Diagnostics stores it.
inline std::string CodeString(DiagCode code) { return std::string(DiagCodeName(code)); }

}  // namespace chipwatch
