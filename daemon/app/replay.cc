// `chipwatch replay`: files or stdin through the full pipeline, alerts on stdout.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "app/commands.h"
#include "app/enrichment.h"
#include "app/input_reader.h"
#include "app/processor.h"
#include "core/bounded_queue.h"

namespace chipwatch {

namespace {

constexpr size_t kFullFailureReports = 100;
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kOutputFlushBytes = 1 << 20;

// Prints the first failures in full, then only counts them.
class FailureReporter {
 public:
  explicit FailureReporter(std::FILE* err) : err_(err) {}

  void Report(const DecodeFailure& f) {
    if (++count_ <= kFullFailureReports) {
      std::fprintf(err_, "chipwatch: %.*s:%llu", static_cast<int>(f.origin.file.size()),
                   f.origin.file.data(), static_cast<unsigned long long>(f.origin.line));
      if (f.origin.index > 0) std::fprintf(err_, " (record %u)", f.origin.index);
      std::string_view reason = DecodeErrorReasonName(f.reason);
      std::string_view format = FormatName(f.format);
      std::fprintf(err_, ": cannot decode %.*s record: %.*s: %s\n", static_cast<int>(format.size()),
                   format.data(), static_cast<int>(reason.size()), reason.data(),
                   f.message.c_str());
      if (count_ == kFullFailureReports) {
        std::fprintf(err_, "chipwatch: further undecodable records are only counted\n");
      }
    }
  }
  uint64_t count() const { return count_; }

 private:
  std::FILE* err_;
  uint64_t count_ = 0;
};

DecodeFailure FramingFailure(std::string_view file, const InputDocument& doc) {
  DecodeFailure f;
  f.origin.file = file;
  f.origin.line = doc.line;
  f.reason = DecodeErrorReason::kTooLarge;
  f.message = doc.error;
  return f;
}

struct Totals {
  uint64_t events = 0;
  uint64_t alerts = 0;
  uint64_t bytes = 0;
};

void Drain(ProcessorOutput& output, std::FILE* out, FailureReporter& failures, Totals& totals) {
  if (!output.alerts.empty()) std::fwrite(output.alerts.data(), 1, output.alerts.size(), out);
  for (const DecodeFailure& f : output.failures) failures.Report(f);
  totals.events += output.events;
  totals.alerts += output.alert_count;
  output.Clear();
}

// One thread: read, process and write inline, no copies.
void ReplaySingle(const ReplayOptions& options, const std::vector<std::string>& inputs,
                  std::shared_ptr<const LoadedPolicy> policy, const ExternalEnricher* external,
                  std::FILE* out, FailureReporter& failures, Totals& totals, Status& io_status) {
  DecoderOptions decoder_options;
  decoder_options.max_record_bytes = options.max_record_bytes;
  decoder_options.max_document_bytes = options.max_document_bytes;
  EventProcessor processor(std::move(policy), external, decoder_options);
  ProcessorOutput output;
  for (const std::string& path : inputs) {
    auto reader = InputReader::Open(path, options.max_document_bytes);
    if (!reader.ok()) {
      io_status = reader.status();
      return;
    }
    InputDocument doc;
    while ((*reader)->Next(doc)) {
      if (!doc.error.empty()) {
        Drain(output, out, failures, totals);
        failures.Report(FramingFailure(path, doc));
        continue;
      }
      Origin origin;
      origin.file = path;
      origin.line = doc.line;
      processor.Process(doc.text, doc.capacity, options.format, origin, output);
      if (output.alerts.size() >= kOutputFlushBytes || !output.failures.empty()) {
        Drain(output, out, failures, totals);
      }
    }
    Drain(output, out, failures, totals);
    totals.bytes += (*reader)->bytes_read();
    if (!(*reader)->status().ok()) {
      io_status = Status::IoError(path + ": " + (*reader)->status().message());
      return;
    }
  }
}

// Several threads: the caller reads documents into batches, workers process them, a writer emits
// results in input order, so output is the same as with one thread.
struct Batch {
  uint64_t seq = 0;
  const std::string* file = nullptr;
  std::string bytes;  // documents back to back, then kInputPadding zero bytes
  struct Doc {
    size_t offset, size;
    uint64_t line;
  };
  std::vector<Doc> docs;
  std::vector<DecodeFailure> framing;  // documents the reader could not frame
};

struct BatchResult {
  ProcessorOutput output;
  std::vector<DecodeFailure> framing;
};

void ReplayParallel(const ReplayOptions& options, const std::vector<std::string>& inputs,
                    std::shared_ptr<const LoadedPolicy> policy, const ExternalEnricher* external,
                    std::FILE* out, FailureReporter& failures, Totals& totals, Status& io_status) {
  const unsigned workers = options.threads;
  BoundedQueue<std::unique_ptr<Batch>> queue(workers * 2);
  std::mutex results_mu;
  std::condition_variable results_cv;
  std::map<uint64_t, BatchResult> results;  // guarded by results_mu
  bool reading_done = false;                // guarded by results_mu
  uint64_t batches_total = 0;               // guarded by results_mu

  DecoderOptions decoder_options;
  decoder_options.max_record_bytes = options.max_record_bytes;
  decoder_options.max_document_bytes = options.max_document_bytes;

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      EventProcessor processor(policy, external, decoder_options);
      while (auto batch = queue.Pop()) {
        BatchResult result;
        result.framing = std::move((*batch)->framing);
        const Batch& b = **batch;
        for (const Batch::Doc& d : b.docs) {
          Origin origin;
          origin.file = *b.file;
          origin.line = d.line;
          processor.Process(std::string_view(b.bytes.data() + d.offset, d.size),
                            b.bytes.size() - d.offset, options.format, origin, result.output);
        }
        std::lock_guard lock(results_mu);
        results.emplace(b.seq, std::move(result));
        results_cv.notify_all();
      }
    });
  }

  std::thread writer([&] {
    uint64_t next = 0;
    for (;;) {
      BatchResult result;
      {
        std::unique_lock lock(results_mu);
        results_cv.wait(lock, [&] {
          return results.count(next) > 0 || (reading_done && next == batches_total);
        });
        auto it = results.find(next);
        if (it == results.end()) return;
        result = std::move(it->second);
        results.erase(it);
      }
      for (const DecodeFailure& f : result.framing) failures.Report(f);
      Drain(result.output, out, failures, totals);
      ++next;
    }
  });

  uint64_t seq = 0;
  auto seal = [&](std::unique_ptr<Batch>& batch) {
    if (batch->docs.empty() && batch->framing.empty()) return;
    batch->bytes.append(kInputPadding, '\0');
    batch->seq = seq++;
    queue.Push(std::move(batch));
    batch.reset();
  };
  for (const std::string& path : inputs) {
    auto reader = InputReader::Open(path, options.max_document_bytes);
    if (!reader.ok()) {
      io_status = reader.status();
      break;
    }
    std::unique_ptr<Batch> batch;
    InputDocument doc;
    while ((*reader)->Next(doc)) {
      if (!batch) {
        batch = std::make_unique<Batch>();
        batch->file = &path;
        batch->bytes.reserve(kBatchBytes + kInputPadding);
      }
      if (!doc.error.empty()) {
        batch->framing.push_back(FramingFailure(path, doc));
      } else {
        batch->docs.push_back({batch->bytes.size(), doc.text.size(), doc.line});
        batch->bytes.append(doc.text);
      }
      if (batch->bytes.size() >= kBatchBytes) seal(batch);
    }
    if (batch) seal(batch);
    totals.bytes += (*reader)->bytes_read();
    if (!(*reader)->status().ok()) {
      io_status = Status::IoError(path + ": " + (*reader)->status().message());
      break;
    }
  }
  queue.Close();
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(results_mu);
    reading_done = true;
    batches_total = seq;
    results_cv.notify_all();
  }
  writer.join();
}

}  // namespace

int RunReplay(const ReplayOptions& options, std::FILE* out, std::FILE* err) {
  std::vector<std::string> inputs = options.inputs;
  if (inputs.empty()) inputs.push_back("-");
  for (const std::string& path : inputs) {
    if (path != "-" && ::access(path.c_str(), R_OK) != 0) {
      std::fprintf(err, "chipwatch replay: %s: cannot read: %s\n", path.c_str(),
                   std::strerror(errno));
      return kExitUsage;
    }
  }
  Diagnostics diags;
  auto policy = LoadPolicy(options.rules.empty() ? DefaultRulePaths() : options.rules, diags);
  // Warnings are `chipwatch check`'s business; a replay only shows what stops it.
  for (const Diagnostic& d : diags.items()) {
    if (d.level == Diagnostic::Level::kError) std::fprintf(err, "%s\n", d.ToString().c_str());
  }
  if (policy == nullptr) {
    std::fprintf(err, "chipwatch replay: the rules have %zu error(s); nothing was replayed\n",
                 diags.error_count());
    return kExitUsage;
  }
  auto enrichment = LoadEnrichment(options.enrich, err);
  if (!enrichment) return kExitUsage;

  const auto start = std::chrono::steady_clock::now();
  FailureReporter failures(err);
  Totals totals;
  Status io_status;
  if (options.threads <= 1) {
    ReplaySingle(options, inputs, policy, enrichment->external.get(), out, failures, totals,
                 io_status);
  } else {
    ReplayParallel(options, inputs, policy, enrichment->external.get(), out, failures, totals,
                   io_status);
  }
  std::fflush(out);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!io_status.ok()) {
    std::fprintf(err, "chipwatch replay: %s\n", io_status.message().c_str());
    return kExitUsage;
  }
  if (!options.quiet) {
    std::fprintf(err,
                 "chipwatch replay: %llu events, %llu alerts, %llu undecodable records "
                 "(%.1f MB in %.2f s)\n",
                 static_cast<unsigned long long>(totals.events),
                 static_cast<unsigned long long>(totals.alerts),
                 static_cast<unsigned long long>(failures.count()), totals.bytes / 1e6, seconds);
  }
  return failures.count() > 0 ? kExitPartial : kExitOk;
}

}  // namespace chipwatch
