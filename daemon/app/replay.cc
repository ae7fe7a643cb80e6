// `chipwatch replay`: files or stdin through the full pipeline, alerts on stdout.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "app/commands.h"
#include "core/bounded_queue.h"
#include "engine/enrichment.h"
#include "engine/input_reader.h"
#include "engine/processor.h"
#include "engine/stateful.h"

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
      std::fprintf(err_, "chipwatch: %s\n", DescribeDecodeFailure(f).c_str());
      if (count_ == kFullFailureReports) {
        std::fprintf(err_, "chipwatch: further undecodable records are only counted\n");
      }
    }
  }
  uint64_t count() const { return count_; }

  // A repaired record (lenient decoding): said once per file and kind of repair, then counted.
  void Warn(const DecodeRepairNote& w) {
    ++warnings_;
    if (!warned_.emplace(std::string(w.origin.file), w.reason).second) return;
    std::fprintf(err_, "chipwatch: %.*s:%llu", static_cast<int>(w.origin.file.size()),
                 w.origin.file.data(), static_cast<unsigned long long>(w.origin.line));
    if (w.origin.index > 0) std::fprintf(err_, " (record %u)", w.origin.index);
    const std::string_view format = FormatName(w.format);
    const std::string_view reason = DecodeWarningName(w.reason);
    std::fprintf(err_,
                 ": warning: %.*s: %.*s record evaluated %s; further records of this file "
                 "with this repair are only counted\n",
                 static_cast<int>(reason.size()), reason.data(), static_cast<int>(format.size()),
                 format.data(),
                 w.reason == DecodeWarning::kMissingId
                     ? "with an id derived from its bytes (cw-...)"
                     : "with the time it was read as its event time (time_source: read)");
  }
  uint64_t warnings() const { return warnings_; }

 private:
  std::FILE* err_;
  uint64_t count_ = 0;
  uint64_t warnings_ = 0;
  std::set<std::pair<std::string, DecodeWarning>> warned_;
};

// The time a replayed record counts as read, standing in for an event time it lacks (lenient
// decoding): the input file's modification time, so that a replay of the same files gives the
// same alerts; for stdin and other streams, the start of the run.
int64_t ReadTimeOf(const std::string& path, int64_t run_start_ms) {
  struct stat st;
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return run_start_ms;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

DecodeFailure FramingFailureOf(std::string_view file, const InputDocument& doc) {
  Origin origin;
  origin.file = file;
  origin.line = doc.line;
  return FramingFailure(origin, Format::kAuto, doc.error);
}

struct Totals {
  uint64_t events = 0;
  uint64_t alerts = 0;
  uint64_t by_kind[3] = {0, 0, 0};  // AlertKind: event, correlation, summary
  uint64_t bytes = 0;
};

// Writes workers' outputs in input order: through the stateful stage when the policy has
// suppressions or correlations (engine/stateful.h), then to `out`.
class OutputWriter {
 public:
  OutputWriter(const std::shared_ptr<const LoadedPolicy>& policy, std::FILE* out,
               FailureReporter& failures, Totals& totals)
      : out_(out), failures_(failures), totals_(totals) {
    if (policy->stateful != nullptr && !policy->stateful->empty()) {
      stage_ = std::make_unique<StatefulStage>(policy);
    }
  }

  void Drain(ProcessorOutput& output) {
    if (stage_ == nullptr) {
      Write(output);
      return;
    }
    stage_->Process(output, staged_);
    Write(staged_);
  }

  // The end of the input: the summaries of the suppression windows still open.
  void Finish() {
    if (stage_ == nullptr) return;
    stage_->Flush(staged_);
    Write(staged_);
  }

 private:
  void Write(ProcessorOutput& output) {
    if (!output.alerts.empty()) std::fwrite(output.alerts.data(), 1, output.alerts.size(), out_);
    for (const DecodeFailure& f : output.failures) failures_.Report(f);
    for (const DecodeRepairNote& w : output.warnings) failures_.Warn(w);
    totals_.events += output.events;
    totals_.alerts += output.alert_count;
    for (const AlertRef& ref : output.refs) ++totals_.by_kind[static_cast<size_t>(ref.kind)];
    output.Clear();
  }

  std::FILE* const out_;
  FailureReporter& failures_;
  Totals& totals_;
  std::unique_ptr<StatefulStage> stage_;
  ProcessorOutput staged_;
};

// One thread: read, process and write inline, no copies.
void ReplaySingle(const ReplayOptions& options, const std::vector<std::string>& inputs,
                  std::shared_ptr<const LoadedPolicy> policy, const ExternalEnricher* external,
                  OutputWriter& writer, FailureReporter& failures, Totals& totals,
                  std::vector<Status>& io_errors, int64_t run_start_ms) {
  DecoderOptions decoder_options;
  decoder_options.max_record_bytes = options.max_record_bytes;
  decoder_options.max_document_bytes = options.max_document_bytes;
  EventProcessor processor(std::move(policy), external, decoder_options);
  ProcessorOutput output;
  for (const std::string& path : inputs) {
    auto reader = InputReader::Open(path, options.max_document_bytes);
    if (!reader.ok()) {
      io_errors.push_back(reader.status());
      continue;
    }
    const int64_t read_time_ms = ReadTimeOf(path, run_start_ms);
    InputDocument doc;
    while ((*reader)->Next(doc)) {
      if (!doc.error.empty()) {
        writer.Drain(output);
        failures.Report(FramingFailureOf(path, doc));
        continue;
      }
      Origin origin;
      origin.file = path;
      origin.line = doc.line;
      origin.read_time_ms = read_time_ms;
      processor.Process(doc.text, doc.capacity, options.format, origin, output);
      (*reader)->Release(doc.text.data());  // alerts and failures hold copies, not views
      if (output.alerts.size() >= kOutputFlushBytes || !output.failures.empty() ||
          !output.warnings.empty()) {
        writer.Drain(output);
      }
    }
    writer.Drain(output);
    totals.bytes += (*reader)->bytes_read();
    if (!(*reader)->status().ok()) {
      io_errors.push_back(Status::IoError(path + ": " + (*reader)->status().message()));
    }
  }
}

// First line numbers of the JSON Lines chunks of one mapped file, which the workers frame
// themselves: chunk k's is known once the worker of chunk k-1 has counted that chunk's newlines
// (chunks are taken in order, so the wait is short and cannot deadlock).
struct LineChain {
  static constexpr uint64_t kUnknown = UINT64_MAX;
  explicit LineChain(size_t chunks) : first_line(new std::atomic<uint64_t>[chunks + 1]) {
    for (size_t i = 0; i <= chunks; ++i) first_line[i].store(kUnknown, std::memory_order_relaxed);
  }
  std::unique_ptr<std::atomic<uint64_t>[]> first_line;
};

// A unit of work for the parallel replay: documents the reader framed, or a chunk of JSON Lines.
struct Batch {
  uint64_t seq = 0;
  const std::string* file = nullptr;
  int64_t read_time_ms = 0;  // Origin::read_time_ms of its records
  std::string bytes;         // copied documents back to back, then kInputPadding zero bytes
  struct Doc {
    const char* mapped;  // the document in a mapped input (capacity bytes readable), else null:
    size_t capacity;     // it was copied to bytes[offset, offset + size)
    size_t offset, size;
    uint64_t line;
  };
  size_t doc_bytes = 0;  // bytes of all documents, copied or mapped
  std::vector<Doc> docs;
  std::vector<DecodeFailure> framing;  // documents the reader could not frame
  // Or: a chunk of JSON Lines in a mapped file (whole lines), framed by the worker.
  const char* chunk = nullptr;
  size_t chunk_size = 0;
  size_t chunk_readable = 0;  // bytes readable from chunk (padding included)
  LineChain* lines = nullptr;
  size_t chunk_index = 0;
};

struct BatchResult {
  ProcessorOutput output;
  std::vector<DecodeFailure> framing;
};

// Cuts `rest` into pieces of about kBatchBytes that end at a newline (or at its end): offset,
// size.
std::vector<std::pair<size_t, size_t>> SplitAtNewlines(std::string_view rest) {
  std::vector<std::pair<size_t, size_t>> chunks;
  for (size_t begin = 0; begin < rest.size();) {
    size_t end = std::min(begin + kBatchBytes, rest.size());
    if (end < rest.size()) {
      const void* nl = std::memchr(rest.data() + end, '\n', rest.size() - end);
      end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1 : rest.size();
    }
    chunks.emplace_back(begin, end - begin);
    begin = end;
  }
  return chunks;
}

// Several threads: the caller reads documents into batches (ReadInput), workers process them
// (Work), a writer emits results in input order (WriteInOrder), so output is the same as with one
// thread.
class ParallelReplay {
 public:
  ParallelReplay(const ReplayOptions& options, std::shared_ptr<const LoadedPolicy> policy,
                 const ExternalEnricher* external, OutputWriter& writer, FailureReporter& failures,
                 Totals& totals, std::vector<Status>& io_errors, int64_t run_start_ms)
      : options_(options),
        policy_(std::move(policy)),
        external_(external),
        writer_(writer),
        failures_(failures),
        totals_(totals),
        io_errors_(io_errors),
        run_start_ms_(run_start_ms),
        queue_(options.threads * 2) {
    decoder_options_.max_record_bytes = options.max_record_bytes;
    decoder_options_.max_document_bytes = options.max_document_bytes;
  }

  void Run(const std::vector<std::string>& inputs) {
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < options_.threads; ++i) threads.emplace_back([this] { Work(); });
    std::thread writer([this] { WriteInOrder(); });
    for (const std::string& path : inputs) ReadInput(path);
    queue_.Close();
    for (auto& t : threads) t.join();
    {
      std::lock_guard lock(results_mu_);
      reading_done_ = true;
      batches_total_ = seq_;
      results_cv_.notify_all();
    }
    writer.join();
  }

 private:
  // A worker thread: processes batches until the queue is closed and empty.
  void Work() {
    EventProcessor processor(policy_, external_, decoder_options_);
    while (auto batch = queue_.Pop()) {
      BatchResult result;
      result.framing = std::move((*batch)->framing);
      const Batch& b = **batch;
      if (b.chunk != nullptr) ProcessChunk(b, processor, result.output);
      ProcessDocs(b, processor, result.output);
      std::lock_guard lock(results_mu_);
      results_.emplace(b.seq, std::move(result));
      results_cv_.notify_all();
    }
  }

  // The first line number of chunk `b`, once the worker of the chunk before has published it;
  // then publishes the next chunk's.
  static uint64_t FirstLineOf(const Batch& b) {
    // memchr per line: far cheaper than std::count's byte-wise widening at ~1 KB a line.
    uint64_t newlines = 0;
    for (const char *p = b.chunk, *end = b.chunk + b.chunk_size;
         (p = static_cast<const char*>(std::memchr(p, '\n', end - p))) != nullptr; ++p) {
      ++newlines;
    }
    std::atomic<uint64_t>& mine = b.lines->first_line[b.chunk_index];
    uint64_t first_line;
    while ((first_line = mine.load(std::memory_order_acquire)) == LineChain::kUnknown) {
      mine.wait(LineChain::kUnknown, std::memory_order_acquire);
    }
    std::atomic<uint64_t>& next = b.lines->first_line[b.chunk_index + 1];
    next.store(first_line + newlines, std::memory_order_release);
    next.notify_all();
    return first_line;
  }

  // A chunk of JSON Lines: frames its lines and processes them.
  void ProcessChunk(const Batch& b, EventProcessor& processor, ProcessorOutput& output) {
    InputReader framer(b.chunk, b.chunk_size, b.chunk_readable, FirstLineOf(b),
                       options_.max_document_bytes);
    InputDocument doc;
    while (framer.Next(doc)) {
      if (!doc.error.empty()) {
        output.failures.push_back(FramingFailureOf(*b.file, doc));
        continue;
      }
      Origin origin;
      origin.file = *b.file;
      origin.line = doc.line;
      origin.read_time_ms = b.read_time_ms;
      processor.Process(doc.text, doc.capacity, options_.format, origin, output);
    }
    InputReader::ReleaseRange(b.chunk, b.chunk + b.chunk_size);
  }

  // The documents the reader framed, mapped or copied.
  void ProcessDocs(const Batch& b, EventProcessor& processor, ProcessorOutput& output) {
    for (const Batch::Doc& d : b.docs) {
      Origin origin;
      origin.file = *b.file;
      origin.line = d.line;
      origin.read_time_ms = b.read_time_ms;
      if (d.mapped != nullptr) {
        processor.Process(std::string_view(d.mapped, d.size), d.capacity, options_.format, origin,
                          output);
        InputReader::ReleaseRange(d.mapped, d.mapped + d.size);
      } else {
        processor.Process(std::string_view(b.bytes.data() + d.offset, d.size),
                          b.bytes.size() - d.offset, options_.format, origin, output);
      }
    }
  }

  // The writer thread: drains results by batch sequence number until reading is done and every
  // batch has been written.
  void WriteInOrder() {
    uint64_t next = 0;
    for (;;) {
      BatchResult result;
      {
        std::unique_lock lock(results_mu_);
        results_cv_.wait(lock, [&] {
          return results_.count(next) > 0 || (reading_done_ && next == batches_total_);
        });
        auto it = results_.find(next);
        if (it == results_.end()) return;
        result = std::move(it->second);
        results_.erase(it);
      }
      for (const DecodeFailure& f : result.framing) failures_.Report(f);
      writer_.Drain(result.output);
      ++next;
    }
  }

  // The reader (the caller's thread): one input into batches, then into chunks once it is JSON
  // Lines.
  void ReadInput(const std::string& path) {
    auto opened = InputReader::Open(path, options_.max_document_bytes);
    if (!opened.ok()) {
      io_errors_.push_back(opened.status());
      return;
    }
    InputReader& reader = **opened;
    const bool mapped = reader.mapped();
    const int64_t read_time_ms = ReadTimeOf(path, run_start_ms_);
    ReadBatches(reader, path, read_time_ms);
    if (mapped && reader.lines_mode() && !reader.rest().empty()) {
      QueueChunks(reader, path, read_time_ms);
    }
    totals_.bytes += reader.bytes_read();
    if (!reader.status().ok()) {
      io_errors_.push_back(Status::IoError(path + ": " + reader.status().message()));
    }
    if (mapped) mapped_readers_.push_back(std::move(*opened));  // its documents may be queued
  }

  // Frames documents into batches of about kBatchBytes and queues them.
  void ReadBatches(InputReader& reader, const std::string& path, int64_t read_time_ms) {
    const bool mapped = reader.mapped();
    std::unique_ptr<Batch> batch;
    InputDocument doc;
    // Mapped JSON Lines: once the first document has shown that every line is a document, the
    // rest is cut into chunks at newlines and the workers frame them (no serial framing pass).
    while (!(mapped && reader.lines_mode()) && reader.Next(doc)) {
      if (!batch) {
        batch = std::make_unique<Batch>();
        batch->file = &path;
        batch->read_time_ms = read_time_ms;
        batch->docs.reserve(mapped ? 2048 : 0);
        if (!mapped) batch->bytes.reserve(kBatchBytes + kInputPadding);
      }
      if (!doc.error.empty()) {
        batch->framing.push_back(FramingFailureOf(path, doc));
      } else if (mapped) {
        batch->docs.push_back({doc.text.data(), doc.capacity, 0, doc.text.size(), doc.line});
      } else {
        batch->docs.push_back({nullptr, 0, batch->bytes.size(), doc.text.size(), doc.line});
        batch->bytes.append(doc.text);
      }
      batch->doc_bytes += doc.text.size();
      if (batch->doc_bytes >= kBatchBytes) Seal(batch);
    }
    if (batch) Seal(batch);
  }

  // Queues a batch that holds anything, with the next sequence number.
  void Seal(std::unique_ptr<Batch>& batch) {
    if (batch->docs.empty() && batch->framing.empty()) return;
    if (!batch->bytes.empty()) batch->bytes.append(kInputPadding, '\0');
    batch->seq = seq_++;
    queue_.Push(std::move(batch));
    batch.reset();
  }

  // Mapped JSON Lines: queues the rest of the input as chunks the workers frame.
  void QueueChunks(InputReader& reader, const std::string& path, int64_t read_time_ms) {
    const std::string_view rest = reader.rest();
    const std::vector<std::pair<size_t, size_t>> chunks = SplitAtNewlines(rest);
    line_chains_.push_back(std::make_unique<LineChain>(chunks.size()));
    LineChain* lines = line_chains_.back().get();
    lines->first_line[0].store(reader.line(), std::memory_order_release);
    const size_t readable = reader.readable_from_rest();
    for (size_t k = 0; k < chunks.size(); ++k) {
      auto chunk = std::make_unique<Batch>();
      chunk->file = &path;
      chunk->read_time_ms = read_time_ms;
      chunk->chunk = rest.data() + chunks[k].first;
      chunk->chunk_size = chunks[k].second;
      chunk->chunk_readable = readable - chunks[k].first;
      chunk->lines = lines;
      chunk->chunk_index = k;
      chunk->seq = seq_++;
      queue_.Push(std::move(chunk));
    }
  }

  const ReplayOptions& options_;
  const std::shared_ptr<const LoadedPolicy> policy_;
  const ExternalEnricher* const external_;
  DecoderOptions decoder_options_;
  OutputWriter& writer_;            // writer thread only
  FailureReporter& failures_;       // writer thread only
  Totals& totals_;                  // events, alerts: writer thread; bytes: reader thread
  std::vector<Status>& io_errors_;  // reader thread only
  const int64_t run_start_ms_;
  BoundedQueue<std::unique_ptr<Batch>> queue_;
  std::mutex results_mu_;
  std::condition_variable results_cv_;
  std::map<uint64_t, BatchResult> results_;  // guarded by results_mu_
  bool reading_done_ = false;                // guarded by results_mu_
  uint64_t batches_total_ = 0;               // guarded by results_mu_
  uint64_t seq_ = 0;                         // reader thread only
  // Mapped inputs stay open until the workers are done with their documents.
  std::vector<std::unique_ptr<InputReader>> mapped_readers_;  // reader thread only
  std::vector<std::unique_ptr<LineChain>> line_chains_;       // reader thread only
};

void ReplayParallel(const ReplayOptions& options, const std::vector<std::string>& inputs,
                    std::shared_ptr<const LoadedPolicy> policy, const ExternalEnricher* external,
                    OutputWriter& writer, FailureReporter& failures, Totals& totals,
                    std::vector<Status>& io_errors, int64_t run_start_ms) {
  ParallelReplay(options, std::move(policy), external, writer, failures, totals, io_errors,
                 run_start_ms)
      .Run(inputs);
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
  Diagnostics enrich_diags;
  auto enrichment = LoadEnrichment(options.enrich, enrich_diags);
  for (const Diagnostic& d : enrich_diags.items()) std::fprintf(err, "%s\n", d.ToString().c_str());
  if (!enrichment) return kExitUsage;

  const auto start = std::chrono::steady_clock::now();
  const int64_t run_start_ms = WallClockMs();
  FailureReporter failures(err);
  Totals totals;
  // An input that cannot be read (missing, a directory, compressed, a read error) is reported and
  // the others are still replayed; the exit code is then 2.
  std::vector<Status> io_errors;
  OutputWriter writer(policy, out, failures, totals);
  if (options.threads <= 1) {
    ReplaySingle(options, inputs, policy, enrichment->external.get(), writer, failures, totals,
                 io_errors, run_start_ms);
  } else {
    ReplayParallel(options, inputs, policy, enrichment->external.get(), writer, failures, totals,
                   io_errors, run_start_ms);
  }
  writer.Finish();
  std::fflush(out);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const Status& e : io_errors) {
    std::fprintf(err, "chipwatch replay: %s\n", e.message().c_str());
  }
  if (!options.quiet) {
    std::fprintf(err,
                 "chipwatch replay: %llu events, %llu alerts, %llu undecodable records "
                 "(%.1f MB in %.3f s)\n",
                 static_cast<unsigned long long>(totals.events),
                 static_cast<unsigned long long>(totals.alerts),
                 static_cast<unsigned long long>(failures.count()), totals.bytes / 1e6, seconds);
    if (!policy->stateful->empty()) {
      std::fprintf(err,
                   "chipwatch replay: alerts by kind: %llu event, %llu correlation, %llu summary\n",
                   static_cast<unsigned long long>(totals.by_kind[0]),
                   static_cast<unsigned long long>(totals.by_kind[1]),
                   static_cast<unsigned long long>(totals.by_kind[2]));
    }
    if (failures.warnings() > 0) {
      std::fprintf(err,
                   "chipwatch replay: %llu records evaluated after a repair (decode warnings: "
                   "a derived id or the read time; see docs/formats/README.md)\n",
                   static_cast<unsigned long long>(failures.warnings()));
    }
  }
  if (!io_errors.empty()) return kExitUsage;
  return failures.count() > 0 ? kExitPartial : kExitOk;
}

}  // namespace chipwatch
