// Metrics: the family list, get-or-create of labelled series, and the exposition.
//
// Counters and gauges live in prometheus-cpp families registered in one Registry; our handles
// point at prometheus-cpp's Counter/Gauge, whose updates are std::atomic<double> operations.
// Two kinds of family are ours instead, exported through prometheus::Collectable:
//   - histograms (prometheus-cpp's Histogram::Observe locks a mutex; ours is lock-free), and
//   - chipwatch_consumer_lag, whose series are removed on revoke: prometheus::Family::Remove frees
//     the metric, which would leave a handle held by another thread dangling; ours only hides it.
#include "metrics/metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace chipwatch {
namespace {

static_assert(std::atomic<double>::is_always_lock_free, "Histogram::Observe must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "Histogram::Observe must be lock-free");

// One metric family: its name, HELP text and label names (in accessor argument order).
struct FamilySpec {
  std::string_view name;
  std::string_view help;
  std::array<std::string_view, 2> labels;  // the first `label_count` are used
  size_t label_count;
};

// ---- Every family the daemon exports: a new metric is one line here plus its accessor. ----
constexpr FamilySpec kEvents{
    "chipwatch_events_total", "Log events decoded, by source and format.", {"source", "format"}, 2};
constexpr FamilySpec kDecodeErrors{
    "chipwatch_decode_errors_total",
    "Records that could not be decoded into an event, by format and reason code.",
    {"format", "reason"},
    2};
constexpr FamilySpec kDecodeWarnings{
    "chipwatch_decode_warnings_total",
    "Records evaluated after a repair (an id derived from the record's bytes, or the read time "
    "standing in for a missing or unparseable event time), by format and reason code.",
    {"format", "reason"},
    2};
constexpr FamilySpec kAlerts{"chipwatch_alerts_total",
                             "Alerts raised, by rule id and severity.",
                             {"rule_id", "severity"},
                             2};
constexpr FamilySpec kDeadLetters{
    "chipwatch_dead_letter_total", "Records sent to the dead-letter destination.", {}, 0};
constexpr FamilySpec kMessages{"chipwatch_messages_total",
                               "Records read from a source (Kafka messages or file records), "
                               "decodable or not.",
                               {"source"},
                               1};
constexpr FamilySpec kEventProcessing{"chipwatch_event_processing_seconds",
                                      "Time from the start of decoding a record to its alerts "
                                      "being raised, in seconds.",
                                      {},
                                      0};
constexpr FamilySpec kAlertDelivery{"chipwatch_alert_delivery_seconds",
                                    "Time from handing an alert to a sink to the sink's "
                                    "acknowledgement, in seconds.",
                                    {},
                                    0};
constexpr FamilySpec kConsumerLag{"chipwatch_consumer_lag",
                                  "Messages between the consumer's position and the end of the "
                                  "partition (high watermark), per assigned partition.",
                                  {"topic", "partition"},
                                  2};
constexpr FamilySpec kInFlight{"chipwatch_in_flight_messages",
                               "Messages read from a source and not yet acknowledged by every "
                               "sink.",
                               {"source"},
                               1};
constexpr FamilySpec kConsumerPaused{"chipwatch_consumer_paused",
                                     "1 while consumption from a source is paused because sinks "
                                     "are behind (backpressure), else 0.",
                                     {"source"},
                                     1};
constexpr FamilySpec kSinkErrors{"chipwatch_sink_errors_total",
                                 "Errors reported by a sink (failed or rejected deliveries).",
                                 {"sink"},
                                 1};
constexpr FamilySpec kSinkPending{"chipwatch_sink_pending",
                                  "Records handed to a sink and not yet acknowledged by it.",
                                  {"sink"},
                                  1};
constexpr FamilySpec kRulesLoaded{
    "chipwatch_rules_loaded", "Rules in the policy currently in effect.", {}, 0};
constexpr FamilySpec kRulesReload{"chipwatch_rules_reload_total",
                                  "Policy reloads attempted, by result (success or failure; a "
                                  "failed reload keeps the previous policy).",
                                  {"result"},
                                  1};
constexpr FamilySpec kReady{"chipwatch_ready",
                            "1 when the daemon reports itself ready (GET /readyz answers 200), "
                            "else 0.",
                            {},
                            0};
// Stateful detections (issue 13, docs/stateful.md). rule_id: a correlation's id, or a suppressed
// rule's (suppressed_total).
constexpr FamilySpec kCorrelationGroups{"chipwatch_correlation_groups",
                                        "Groups a correlation currently holds a window for, over "
                                        "every partition of this instance.",
                                        {"rule_id"},
                                        1};
constexpr FamilySpec kCorrelationAlerts{"chipwatch_correlation_alerts_total",
                                        "Correlation alerts raised, by correlation id.",
                                        {"rule_id"},
                                        1};
constexpr FamilySpec kSuppressed{"chipwatch_suppressed_total",
                                 "Matches that raised no alert because their rule's suppression "
                                 "window (or their correlation group's quiet time) was open.",
                                 {"rule_id"},
                                 1};
constexpr FamilySpec kLateEvents{"chipwatch_late_events_total",
                                 "Matches ignored by a correlation because their event time was "
                                 "at or before the group's window (late or out of order).",
                                 {"rule_id"},
                                 1};
constexpr FamilySpec kStateEvictions{"chipwatch_state_evictions_total",
                                     "Groups (or suppression windows) evicted because a "
                                     "correlation (or rule) held state.max_groups of them.",
                                     {"rule_id"},
                                     1};
constexpr FamilySpec kStateSnapshot{"chipwatch_state_snapshot_seconds",
                                    "Time to write one snapshot of the stateful stage's state, in "
                                    "seconds.",
                                    {},
                                    0};
constexpr FamilySpec kBuildInfo{
    "chipwatch_build_info", "Always 1; the version label names the running build.", {"version"}, 1};

// Bucket upper bounds in seconds.
constexpr std::array kEventProcessingBuckets = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                                0.1,     0.25,     0.5,     1.0};
constexpr std::array kAlertDeliveryBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
constexpr std::array kStateSnapshotBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

// A map key for a tuple of label values: each value length-prefixed, so no value can collide.
std::string LabelKey(std::initializer_list<std::string_view> values) {
  std::string key;
  for (std::string_view v : values) {
    key += std::to_string(v.size());
    key += ':';
    key += v;
  }
  return key;
}

prometheus::Labels MakeLabels(const FamilySpec& spec,
                              std::initializer_list<std::string_view> values) {
  prometheus::Labels labels;
  size_t i = 0;
  for (std::string_view v : values) {
    labels.emplace(std::string(spec.labels[i++]), std::string(v));
  }
  return labels;
}

// A prometheus-cpp family (Counter or Gauge) plus a cache of our handles by label values.
template <typename Handle, typename Prom>
class LabeledFamily {
 public:
  LabeledFamily(prometheus::Registry& registry, const FamilySpec& spec) : spec_(spec) {
    if constexpr (std::is_same_v<Prom, prometheus::Counter>) {
      family_ = &prometheus::BuildCounter()
                     .Name(std::string(spec.name))
                     .Help(std::string(spec.help))
                     .Register(registry);
    } else {
      family_ = &prometheus::BuildGauge()
                     .Name(std::string(spec.name))
                     .Help(std::string(spec.help))
                     .Register(registry);
    }
  }

  // `values` in the order of spec.labels. Family::Add validates label names; ours are constants,
  // all exercised by the tests, so only allocation failure could make it throw.
  Handle& Get(std::initializer_list<std::string_view> values) {
    std::string key = LabelKey(values);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = handles_.find(key);
    if (it != handles_.end()) return it->second;
    Prom& metric = family_->Add(MakeLabels(spec_, values));
    return handles_.try_emplace(std::move(key), metric).first->second;
  }

 private:
  const FamilySpec& spec_;
  prometheus::Family<Prom>* family_ = nullptr;  // owned by the registry
  std::mutex mu_;
  std::unordered_map<std::string, Handle> handles_;  // guarded by mu_; nodes never move
};

// A gauge family whose series can be hidden (a revoked partition) without invalidating handles.
class RemovableGaugeFamily : public prometheus::Collectable {
 public:
  explicit RemovableGaugeFamily(const FamilySpec& spec) : spec_(spec) {}

  Gauge& Get(std::initializer_list<std::string_view> values) {
    std::string key = LabelKey(values);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
      it = series_.try_emplace(std::move(key), MakeLabels(spec_, values)).first;
    }
    if (!it->second.exported) {  // reassigned after a revoke: start over, ignore late updates
      it->second.gauge.Set(0);
      it->second.exported = true;
    }
    return it->second.handle;
  }

  void Remove(std::initializer_list<std::string_view> values) {
    std::string key = LabelKey(values);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) return;
    it->second.exported = false;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = std::string(spec_.name);
    family.help = std::string(spec_.help);
    family.type = prometheus::MetricType::Gauge;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [key, series] : series_) {
        if (!series.exported) continue;
        prometheus::ClientMetric metric = series.gauge.Collect();
        for (const auto& [name, value] : series.labels) metric.label.push_back({name, value});
        family.metric.push_back(std::move(metric));
      }
    }
    if (family.metric.empty()) return {};  // like prometheus::Family: no series, no family
    return {std::move(family)};
  }

 private:
  struct Series {
    explicit Series(prometheus::Labels l) : labels(std::move(l)) {}
    prometheus::Labels labels;
    prometheus::Gauge gauge;
    Gauge handle{gauge};
    bool exported = true;
  };

  const FamilySpec& spec_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Series> series_;  // guarded by mu_; nodes never move
};

// Exports one of our Histograms as a Prometheus histogram family.
class HistogramFamily : public prometheus::Collectable {
 public:
  template <size_t N>
  HistogramFamily(const FamilySpec& spec, const std::array<double, N>& buckets)
      : spec_(spec), histogram_(std::vector<double>(buckets.begin(), buckets.end())) {}

  Histogram& histogram() { return histogram_; }

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = std::string(spec_.name);
    family.help = std::string(spec_.help);
    family.type = prometheus::MetricType::Histogram;
    prometheus::ClientMetric metric;
    const std::vector<uint64_t> counts = histogram_.CumulativeCounts();
    const std::vector<double>& bounds = histogram_.upper_bounds();
    for (size_t i = 0; i < counts.size(); ++i) {
      prometheus::ClientMetric::Bucket bucket;
      bucket.cumulative_count = counts[i];
      bucket.upper_bound = i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
      metric.histogram.bucket.push_back(bucket);
    }
    metric.histogram.sample_count = counts.back();
    metric.histogram.sample_sum = histogram_.Sum();
    family.metric.push_back(std::move(metric));
    return {std::move(family)};
  }

 private:
  const FamilySpec& spec_;
  Histogram histogram_;
};

using CounterFamily = LabeledFamily<Counter, prometheus::Counter>;
using GaugeFamily = LabeledFamily<Gauge, prometheus::Gauge>;

}  // namespace

// ---- Counter, Gauge ----

void Counter::Inc(double v) { counter_->Increment(v); }
double Counter::Value() const { return counter_->Value(); }

void Gauge::Set(double v) { gauge_->Set(v); }
void Gauge::Inc(double v) { gauge_->Increment(v); }
void Gauge::Dec(double v) { gauge_->Decrement(v); }
double Gauge::Value() const { return gauge_->Value(); }

// ---- Histogram ----

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double seconds) {
  if (std::isnan(seconds)) return;
  // First bound >= seconds: `le` is inclusive. Past the end is the +Inf bucket.
  const size_t i =
      static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), seconds) -
                          upper_bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = total;
  }
  return cumulative;
}

uint64_t Histogram::Count() const { return CumulativeCounts().back(); }

double Histogram::Sum() const { return sum_.load(std::memory_order_relaxed); }

// ---- Metrics ----

struct Metrics::Impl {
  explicit Impl(std::string_view version) {
    build_info.Get({version}).Set(1);
    dead_letters = &dead_letter_family.Get({});
    rules_loaded = &rules_loaded_family.Get({});
    ready = &ready_family.Get({});
    reload_success = &rules_reload.Get({"success"});
    reload_failure = &rules_reload.Get({"failure"});
  }

  prometheus::Registry registry;
  CounterFamily events{registry, kEvents};
  CounterFamily decode_errors{registry, kDecodeErrors};
  CounterFamily decode_warnings{registry, kDecodeWarnings};
  CounterFamily alerts{registry, kAlerts};
  CounterFamily dead_letter_family{registry, kDeadLetters};
  CounterFamily messages{registry, kMessages};
  CounterFamily sink_errors{registry, kSinkErrors};
  CounterFamily rules_reload{registry, kRulesReload};
  CounterFamily correlation_alerts{registry, kCorrelationAlerts};
  CounterFamily suppressed{registry, kSuppressed};
  CounterFamily late_events{registry, kLateEvents};
  CounterFamily state_evictions{registry, kStateEvictions};
  GaugeFamily correlation_groups{registry, kCorrelationGroups};
  GaugeFamily in_flight{registry, kInFlight};
  GaugeFamily consumer_paused{registry, kConsumerPaused};
  GaugeFamily sink_pending{registry, kSinkPending};
  GaugeFamily rules_loaded_family{registry, kRulesLoaded};
  GaugeFamily ready_family{registry, kReady};
  GaugeFamily build_info{registry, kBuildInfo};
  RemovableGaugeFamily consumer_lag{kConsumerLag};
  HistogramFamily event_processing{kEventProcessing, kEventProcessingBuckets};
  HistogramFamily alert_delivery{kAlertDelivery, kAlertDeliveryBuckets};
  HistogramFamily state_snapshot{kStateSnapshot, kStateSnapshotBuckets};

  // Resolved once: the label-less series and the two reload results.
  Counter* dead_letters = nullptr;
  Gauge* rules_loaded = nullptr;
  Gauge* ready = nullptr;
  Counter* reload_success = nullptr;
  Counter* reload_failure = nullptr;

  // Everything Serialize() exports.
  std::vector<const prometheus::Collectable*> Collectables() const {
    return {&registry, &consumer_lag, &event_processing, &alert_delivery, &state_snapshot};
  }
};

Metrics::Metrics(std::string_view version) : impl_(std::make_unique<Impl>(version)) {}
Metrics::~Metrics() = default;

Counter& Metrics::Events(std::string_view source, std::string_view format) {
  return impl_->events.Get({source, format});
}
Counter& Metrics::DecodeErrors(std::string_view format, std::string_view reason) {
  return impl_->decode_errors.Get({format, reason});
}
Counter& Metrics::DecodeWarnings(std::string_view format, std::string_view reason) {
  return impl_->decode_warnings.Get({format, reason});
}
Counter& Metrics::Alerts(std::string_view rule_id, std::string_view severity) {
  return impl_->alerts.Get({rule_id, severity});
}
Counter& Metrics::DeadLetters() { return *impl_->dead_letters; }
Counter& Metrics::Messages(std::string_view source) { return impl_->messages.Get({source}); }
Histogram& Metrics::EventProcessing() { return impl_->event_processing.histogram(); }
Histogram& Metrics::AlertDelivery() { return impl_->alert_delivery.histogram(); }
Gauge& Metrics::ConsumerLag(std::string_view topic, int32_t partition) {
  const std::string p = std::to_string(partition);
  return impl_->consumer_lag.Get({topic, p});
}
void Metrics::RemoveConsumerLag(std::string_view topic, int32_t partition) {
  const std::string p = std::to_string(partition);
  impl_->consumer_lag.Remove({topic, p});
}
Gauge& Metrics::InFlight(std::string_view source) { return impl_->in_flight.Get({source}); }
Gauge& Metrics::ConsumerPaused(std::string_view source) {
  return impl_->consumer_paused.Get({source});
}
Counter& Metrics::SinkErrors(std::string_view sink) { return impl_->sink_errors.Get({sink}); }
Gauge& Metrics::SinkPending(std::string_view sink) { return impl_->sink_pending.Get({sink}); }
Gauge& Metrics::RulesLoaded() { return *impl_->rules_loaded; }
Counter& Metrics::RulesReload(bool success) {
  return success ? *impl_->reload_success : *impl_->reload_failure;
}
Gauge& Metrics::Ready() { return *impl_->ready; }
Gauge& Metrics::CorrelationGroups(std::string_view rule_id) {
  return impl_->correlation_groups.Get({rule_id});
}
Counter& Metrics::CorrelationAlerts(std::string_view rule_id) {
  return impl_->correlation_alerts.Get({rule_id});
}
Counter& Metrics::Suppressed(std::string_view rule_id) { return impl_->suppressed.Get({rule_id}); }
Counter& Metrics::LateEvents(std::string_view rule_id) { return impl_->late_events.Get({rule_id}); }
Counter& Metrics::StateEvictions(std::string_view rule_id) {
  return impl_->state_evictions.Get({rule_id});
}
Histogram& Metrics::StateSnapshot() { return impl_->state_snapshot.histogram(); }

std::string Metrics::Serialize() const {
  try {
    std::vector<prometheus::MetricFamily> families;
    for (const prometheus::Collectable* c : impl_->Collectables()) {
      for (prometheus::MetricFamily& f : c->Collect()) families.push_back(std::move(f));
    }
    // Stable output: families by name, series by labels (prometheus-cpp keeps them hashed).
    std::sort(families.begin(), families.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    for (prometheus::MetricFamily& f : families) {
      std::sort(f.metric.begin(), f.metric.end(),
                [](const auto& a, const auto& b) { return a.label < b.label; });
    }
    return prometheus::TextSerializer().Serialize(families);
  } catch (const std::exception&) {
    return {};  // only allocation can fail here; an empty scrape is the safe answer
  }
}

}  // namespace chipwatch
