// KafkaSink: delivers records to one Kafka topic with an idempotent librdkafka producer; serves
// both the alert topic and the dead-letter topic.
//
// A record's SinkCallback fires once, from librdkafka's delivery report: OK once the broker has
// acknowledged it (acks=all), or a permanent error (e.g. a record larger than the topic accepts).
// The producer never gives up on a record by itself (message.timeout.ms=0): while the brokers are
// down, records wait in librdkafka's bounded queue, and Deliver() blocks once that queue is full,
// which is the backpressure the daemon relies on. Destroying the sink purges what is still queued
// and reports it through the callbacks as failed ("sink closed"); call Flush() first.
//
// Thread contract: Deliver(), Flush() and pending() may be called from any number of threads.
// Callbacks (`done` and `on_error`) run on the sink's poller thread, or on a thread inside Flush()
// (librdkafka's flush serves delivery reports itself); they must be cheap and must not call back
// into the sink. librdkafka types never appear in this header.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/status.h"
#include "sink/sink.h"

namespace chipwatch {

// `on_error` receives client errors worth a log line (broker down, authentication failures...);
// fatal == true means the producer can no longer deliver anything (e.g. a fatal idempotence error)
// and the daemon should stop. Secret property values never appear in its messages nor in the
// returned status. The sink's name is "kafka:<topic>".
Result<std::unique_ptr<Sink>> CreateKafkaSink(
    const KafkaSinkConfig& config,
    std::function<void(bool fatal, const std::string& message)> on_error);

}  // namespace chipwatch
