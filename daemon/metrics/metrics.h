// Metrics: the daemon's Prometheus metrics, and MetricsServer, the HTTP endpoint that exposes them
// (GET /metrics) together with the liveness and readiness probes (GET /healthz, GET /readyz).
//
// Every metric family is declared once, in one list in metrics.cc (name, HELP text, label names),
// and is created in the constructor; the metric names are a fixed interface that dashboards and
// alerting rules depend on. Accessors return handles (Counter, Gauge, Histogram) for one set of
// label values: resolve a handle once, keep the reference, update it on the hot path.
//
// Label values must come from bounded sets (configured source names, formats, rule ids, fixed
// reason codes), never from event data: every distinct value is a new time series, kept for the
// lifetime of the Metrics object.
//
// Thread contract: every member of Metrics is thread-safe. Get-or-create accessors take a mutex
// (one per family) the first time a label set is seen and return a reference that stays valid for
// the Metrics' lifetime. Updating a handle is lock-free (std::atomic only) and safe from any
// thread. Serialize() takes the family mutexes briefly and may run concurrently with updates; a
// scrape sees each counter at some value it had during the scrape.
//
// prometheus-cpp and civetweb stay inside metrics/*.cc: their types appear here only as opaque
// forward declarations. Nothing here throws (civetweb and prometheus-cpp exceptions are caught at
// the boundary) or prints.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace chipwatch {

// A monotonically increasing value (one time series). Not copyable; Metrics owns it.
class Counter {
 public:
  explicit Counter(prometheus::Counter& counter) : counter_(&counter) {}
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `v` (>= 0; a negative increment is ignored, counters never go down). Lock-free.
  void Inc(double v = 1.0);
  double Value() const;

 private:
  prometheus::Counter* counter_;
};

// A value that goes up and down (one time series). Not copyable; Metrics owns it.
class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(&gauge) {}
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  // All lock-free.
  void Set(double v);
  void Inc(double v = 1.0);
  void Dec(double v = 1.0);
  double Value() const;

 private:
  prometheus::Gauge* gauge_;
};

// A distribution of durations in seconds, with fixed bucket upper bounds (and an implicit +Inf
// bucket). Observe() is lock-free: one relaxed atomic increment of the bucket's count and one
// atomic add to the sum, so it is cheap on the per-event path; prometheus-cpp's own Histogram takes
// a mutex per observation, which is why this one is ours. The snapshot accessors read the atomics
// one by one: during concurrent observations the sum may lag or lead the counts by a few
// observations, the counts are always cumulative and consistent with Count().
class Histogram {
 public:
  // `upper_bounds`: finite, strictly increasing (the caller's constants).
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `seconds` in the first bucket whose upper bound is >= it (Prometheus' `le`); above
  // every bound, only in +Inf. NaN is ignored.
  void Observe(double seconds);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative counts, one per upper bound and a last one for +Inf (== Count()).
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t Count() const;
  double Sum() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

class Metrics {
 public:
  // Creates the registry and every family; chipwatch_build_info{version} = 1. The label-less
  // series (dead letters, rules loaded, ready) and chipwatch_rules_reload_total for both results
  // exist from the start, at 0.
  explicit Metrics(std::string_view version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // chipwatch_events_total{source,format}: events decoded.
  Counter& Events(std::string_view source, std::string_view format);
  // chipwatch_decode_errors_total{format,reason}: `reason` is a fixed code, not an error message.
  Counter& DecodeErrors(std::string_view format, std::string_view reason);
  // chipwatch_decode_warnings_total{format,reason}: records evaluated after a repair (lenient
  // decoding: missing_id, missing_time, invalid_time).
  Counter& DecodeWarnings(std::string_view format, std::string_view reason);
  // chipwatch_alerts_total{rule_id,severity}
  Counter& Alerts(std::string_view rule_id, std::string_view severity);
  // chipwatch_dead_letter_total
  Counter& DeadLetters();
  // chipwatch_messages_total{source}: records read from a source (decodable or not).
  Counter& Messages(std::string_view source);
  // chipwatch_event_processing_seconds: decode to alert; buckets 10us .. 1s.
  Histogram& EventProcessing();
  // chipwatch_alert_delivery_seconds: alert to sink acknowledgement; buckets 1ms .. 30s.
  Histogram& AlertDelivery();
  // chipwatch_consumer_lag{topic,partition}
  Gauge& ConsumerLag(std::string_view topic, int32_t partition);
  // Stops exporting chipwatch_consumer_lag for a revoked partition. A Gauge& obtained earlier stays
  // valid (updating it is harmless and invisible); ConsumerLag() for the same partition exports
  // the series again, starting from 0.
  void RemoveConsumerLag(std::string_view topic, int32_t partition);
  // chipwatch_in_flight_messages{source}: read, not yet fully acknowledged by every sink.
  Gauge& InFlight(std::string_view source);
  // chipwatch_consumer_paused{source}: 1 while consumption is paused for backpressure.
  Gauge& ConsumerPaused(std::string_view source);
  // chipwatch_sink_errors_total{sink}
  Counter& SinkErrors(std::string_view sink);
  // chipwatch_sink_pending{sink}: records handed to a sink, not yet acknowledged.
  Gauge& SinkPending(std::string_view sink);
  // chipwatch_rules_loaded
  Gauge& RulesLoaded();
  // chipwatch_rules_reload_total{result="success"|"failure"}
  Counter& RulesReload(bool success);
  // chipwatch_ready: 1 when the daemon is ready (what /readyz reports, as a time series).
  Gauge& Ready();
  // Stateful detections (docs/stateful.md); rule_id is a correlation's or a rule's id.
  // chipwatch_correlation_groups{rule_id}: groups held, over every partition (update by deltas).
  Gauge& CorrelationGroups(std::string_view rule_id);
  // chipwatch_correlation_alerts_total{rule_id}
  Counter& CorrelationAlerts(std::string_view rule_id);
  // chipwatch_suppressed_total{rule_id}: matches a suppression window or quiet time silenced.
  Counter& Suppressed(std::string_view rule_id);
  // chipwatch_late_events_total{rule_id}: matches at or before their group's window.
  Counter& LateEvents(std::string_view rule_id);
  // chipwatch_state_evictions_total{rule_id}: groups or windows evicted at state.max_groups.
  Counter& StateEvictions(std::string_view rule_id);
  // chipwatch_state_snapshot_seconds: one snapshot's write time; buckets 1ms .. 10s.
  Histogram& StateSnapshot();

  // The Prometheus text exposition (format 0.0.4) of every series, families sorted by name.
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An HTTP server on MetricsConfig's host:port (only that address; IPv6 in brackets when the
// civetweb build supports IPv6) with two worker threads, serving
//   GET /metrics  200, Metrics::Serialize(), Content-Type "text/plain; version=0.0.4;
//   charset=utf-8" GET /healthz  200 "ok": the process is alive and serving GET /readyz   200
//   "ready" when `ready()` returns true, else 503 "not ready"
// HEAD is answered like GET without a body; other methods get 405; any other path 404.
//
// Thread contract: `ready` is called from the server's threads, concurrently with everything else
// (read atomics in it); an empty `ready` means "not ready". `metrics` must outlive the server.
// Start() ignores `config.enabled` (the caller decides whether to serve). The destructor stops
// serving and joins the server's threads.
class MetricsServer {
 public:
  // Binds and starts serving. A bind failure (address in use, not local, no IPv6 support) is an
  // IoError whose message names the address, e.g. "cannot listen on 127.0.0.1:9464: ...".
  static Result<std::unique_ptr<MetricsServer>> Start(const MetricsConfig& config,
                                                      const Metrics& metrics,
                                                      std::function<bool()> ready);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (config port 0 binds an ephemeral port, for tests).
  uint16_t port() const;
  // The address served, "host:port" or "[v6]:port", with the bound port.
  const std::string& address() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chipwatch
