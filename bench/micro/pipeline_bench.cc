// Micro-benchmarks of the per-event stages, over chipwatch's own libraries (Google Benchmark).
//
//   BM_Decode/<format>     simdjson decoding of one JSON Lines record into an Event
//   BM_Enrich/<format>     GeoIP + directory lookups and catalog enrichment of one decoded event
//   BM_Match/<format>      rule evaluation (default pack) of one enriched event
//   BM_Pipeline/<format>   EventProcessor: decode + enrich + match + alert JSON, one record
//
// Input: $CHIPWATCH_BENCH_DATA/<format>.jsonl (bench/run writes 2,000 generated records per
// format there), else tests/data/samples/<format>.jsonl. Items/s is events per second; the figures
// are only comparable within one run (bench/run reports them next to the end-to-end ratios).
// BM_Enrich and BM_Match time each call with steady_clock (manual time), which adds ~20-40 ns.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/diagnostics.h"
#include "decode/decoder.h"
#include "engine/policy.h"
#include "engine/processor.h"
#include "enrich/directory.h"
#include "enrich/enricher.h"
#include "enrich/geoip.h"

namespace chipwatch {
namespace {

constexpr size_t kPadding = 64;  // >= simdjson::SIMDJSON_PADDING

// One format's records: the file's bytes (padded) and a view per line.
struct Corpus {
  std::string bytes;
  std::vector<std::string_view> lines;
  size_t capacity(std::string_view line) const { return bytes.data() + bytes.size() - line.data(); }
};

std::string SourceDir() { return CHIPWATCH_SOURCE_DIR; }

const Corpus& LoadCorpus(const std::string& format) {
  static std::map<std::string, std::unique_ptr<Corpus>> cache;
  auto& slot = cache[format];
  if (slot) return *slot;
  slot = std::make_unique<Corpus>();
  std::string path;
  if (const char* dir = std::getenv("CHIPWATCH_BENCH_DATA"))
    path = std::string(dir) + "/" + format + ".jsonl";
  std::ifstream in(path);
  if (!in) in = std::ifstream(SourceDir() + "/tests/data/samples/" + format + ".jsonl");
  std::stringstream ss;
  ss << in.rdbuf();
  slot->bytes = ss.str();
  size_t content = slot->bytes.size();
  slot->bytes.append(kPadding, '\0');
  std::string_view all(slot->bytes.data(), content);
  while (!all.empty()) {
    size_t nl = all.find('\n');
    std::string_view line = all.substr(0, nl);
    if (!line.empty()) slot->lines.push_back(line);
    if (nl == std::string_view::npos) break;
    all.remove_prefix(nl + 1);
  }
  return *slot;
}

struct Shared {
  std::shared_ptr<const LoadedPolicy> policy;
  std::unique_ptr<GeoIp> geoip;
  std::unique_ptr<Directory> directory;
  std::unique_ptr<ExternalEnricher> external;
};

const Shared& GetShared() {
  static Shared* shared = [] {
    auto* s = new Shared;
    Diagnostics diags;
    s->policy = LoadPolicy({SourceDir() + "/rules"}, diags);
    if (!s->policy) {
      std::fprintf(stderr, "micro: cannot load rules/\n");
      std::exit(2);
    }
    auto geo = GeoIp::Open(SourceDir() + "/tests/data/geoip/test-country.mmdb");
    if (geo.ok()) s->geoip = std::move(geo.value());
    s->directory = Directory::Load(SourceDir() + "/tests/data/directory.csv", diags);
    s->external = std::make_unique<ExternalEnricher>(s->geoip.get(), s->directory.get());
    return s;
  }();
  return *shared;
}

Format FormatOf(const std::string& name) { return ParseFormat(name).value_or(Format::kAuto); }

// Calls `fn(event)` for every decoded event.
template <typename Fn>
class FnHandler : public RecordHandler {
 public:
  explicit FnHandler(Fn fn) : fn_(std::move(fn)) {}
  void OnEvent(Event& event) override { fn_(event); }
  void OnError(const Origin&, Format, DecodeErrorReason, std::string_view) override { ++errors; }
  uint64_t errors = 0;

 private:
  Fn fn_;
};

void BM_Decode(benchmark::State& state, std::string format) {
  const Corpus& corpus = LoadCorpus(format);
  Decoder decoder;
  uint64_t events = 0;
  FnHandler handler([&](Event& e) {
    benchmark::DoNotOptimize(e.present);
    ++events;
  });
  Origin origin{"bench", 1};
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    std::string_view line = corpus.lines[i];
    decoder.DecodeDocument(line, corpus.capacity(line), FormatOf(format), origin, handler);
    bytes += line.size();
    if (++i == corpus.lines.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  if (handler.errors) state.SkipWithError("decode errors");
}

void BM_Enrich(benchmark::State& state, std::string format) {
  const Corpus& corpus = LoadCorpus(format);
  const Shared& s = GetShared();
  Decoder decoder;
  Arena arena;
  auto scratch = s.policy->catalogs->NewScratch();
  uint64_t events = 0;
  double seconds = 0;
  FnHandler handler([&](Event& e) {
    arena.Reset();
    auto t0 = std::chrono::steady_clock::now();
    s.external->Enrich(e);
    s.policy->catalogs->Enrich(e, *scratch, arena);
    auto t1 = std::chrono::steady_clock::now();
    seconds += std::chrono::duration<double>(t1 - t0).count();
    ++events;
  });
  Origin origin{"bench", 1};
  size_t i = 0;
  for (auto _ : state) {
    seconds = 0;
    std::string_view line = corpus.lines[i];
    decoder.DecodeDocument(line, corpus.capacity(line), FormatOf(format), origin, handler);
    state.SetIterationTime(seconds);
    if (++i == corpus.lines.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}

void BM_Match(benchmark::State& state, std::string format) {
  const Corpus& corpus = LoadCorpus(format);
  const Shared& s = GetShared();
  Decoder decoder;
  Arena arena;
  auto catalog_scratch = s.policy->catalogs->NewScratch();
  auto match_scratch = s.policy->rules->NewScratch();
  std::vector<RuleMatch> matches;
  constexpr int kRepeat = 8;  // evaluation is pure: repeat it to dwarf the clock's overhead
  uint64_t evaluations = 0, alerts = 0;
  double seconds = 0;
  FnHandler handler([&](Event& e) {
    arena.Reset();
    s.external->Enrich(e);
    s.policy->catalogs->Enrich(e, *catalog_scratch, arena);
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < kRepeat; ++r) {
      matches.clear();
      s.policy->rules->Evaluate(e, *match_scratch, matches);
    }
    auto t1 = std::chrono::steady_clock::now();
    seconds += std::chrono::duration<double>(t1 - t0).count();
    evaluations += kRepeat;
    alerts += matches.size();
  });
  Origin origin{"bench", 1};
  size_t i = 0;
  for (auto _ : state) {
    seconds = 0;
    std::string_view line = corpus.lines[i];
    decoder.DecodeDocument(line, corpus.capacity(line), FormatOf(format), origin, handler);
    state.SetIterationTime(seconds);
    if (++i == corpus.lines.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(evaluations));
  state.counters["alerts_per_event"] =
      benchmark::Counter(evaluations ? double(alerts) * kRepeat / double(evaluations) : 0);
}

void BM_Pipeline(benchmark::State& state, std::string format) {
  const Corpus& corpus = LoadCorpus(format);
  const Shared& s = GetShared();
  EventProcessor processor(s.policy, s.external.get());
  ProcessorOutput out;
  Origin origin{"bench", 1};
  size_t i = 0, bytes = 0;
  uint64_t events = 0;
  for (auto _ : state) {
    std::string_view line = corpus.lines[i];
    processor.Process(line, corpus.capacity(line), FormatOf(format), origin, out);
    bytes += line.size();
    events += out.events;
    out.Clear();
    if (++i == corpus.lines.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

const char* kFormats[] = {"cloudtrail", "gcp_audit", "azure_activity", "k8s_audit", "gpu_alloc"};

int Register() {
  for (const char* f : kFormats) {
    benchmark::RegisterBenchmark((std::string("BM_Decode/") + f).c_str(), BM_Decode,
                                 std::string(f));
    benchmark::RegisterBenchmark((std::string("BM_Enrich/") + f).c_str(), BM_Enrich, std::string(f))
        ->UseManualTime();
    benchmark::RegisterBenchmark((std::string("BM_Match/") + f).c_str(), BM_Match, std::string(f))
        ->UseManualTime();
    benchmark::RegisterBenchmark((std::string("BM_Pipeline/") + f).c_str(), BM_Pipeline,
                                 std::string(f));
  }
  return 0;
}
const int registered = Register();

}  // namespace
}  // namespace chipwatch

BENCHMARK_MAIN();
