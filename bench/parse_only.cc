// parse_only: the parse-only limit for `chipwatch replay` on CloudTrail JSON Lines.
//
// Reads JSON Lines files in 4 MiB chunks into one reused padded buffer, and for each line asks one
// reused simdjson On-Demand parser for three fields only (eventName, awsRegion, sourceIPAddress,
// in CloudTrail's document order). It counts lines, decode errors and a few matches so that the
// work cannot be optimized away. No enrichment, no rules, no output: whatever chipwatch does on
// top of this is the price of its pipeline. Built with the same flags as chipwatch
// (bench/CMakeLists.txt).
//
// Usage: parse_only FILE...   prints "lines=N errors=E run_instances=R cn_region=C ip_bytes=B"
#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kChunk = 4u << 20;

struct Counts {
  unsigned long long lines = 0, errors = 0, run_instances = 0, cn_region = 0, ip_bytes = 0;
};

void ParseLine(simdjson::ondemand::parser& parser, const char* data, size_t len, size_t capacity,
               Counts& c) {
  ++c.lines;
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(data, len, capacity)).get(doc)) {
    ++c.errors;
    return;
  }
  std::string_view name, region, ip;
  if (doc["eventName"].get_string().get(name)) {
    ++c.errors;
    return;
  }
  if (!doc["awsRegion"].get_string().get(region) && region.starts_with("cn-")) ++c.cn_region;
  if (!doc["sourceIPAddress"].get_string().get(ip)) c.ip_bytes += ip.size();
  if (name == "RunInstances") ++c.run_instances;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: parse_only FILE...\n");
    return 2;
  }
  simdjson::ondemand::parser parser;
  std::vector<char> buf(kChunk * 2 + simdjson::SIMDJSON_PADDING);
  Counts c;
  for (int i = 1; i < argc; ++i) {
    std::FILE* f = std::fopen(argv[i], "rb");
    if (f == nullptr) {
      std::perror(argv[i]);
      return 2;
    }
    size_t have = 0;
    for (;;) {
      if (have + kChunk + simdjson::SIMDJSON_PADDING > buf.size()) {
        buf.resize(have + kChunk + simdjson::SIMDJSON_PADDING);  // a line longer than a chunk
      }
      size_t n = std::fread(buf.data() + have, 1, kChunk, f);
      have += n;
      bool eof = n == 0;
      const char* p = buf.data();
      const char* end = buf.data() + have;
      for (;;) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        if (nl == nullptr) {
          if (eof && p < end) {
            std::memset(const_cast<char*>(end), 0, simdjson::SIMDJSON_PADDING);
            ParseLine(parser, p, end - p, end - p + simdjson::SIMDJSON_PADDING, c);
            p = end;
          }
          break;
        }
        if (nl > p) ParseLine(parser, p, nl - p, buf.data() + buf.size() - p, c);
        p = nl + 1;
      }
      have = end - p;
      std::memmove(buf.data(), p, have);
      if (eof) break;
    }
    std::fclose(f);
  }
  std::printf("lines=%llu errors=%llu run_instances=%llu cn_region=%llu ip_bytes=%llu\n", c.lines,
              c.errors, c.run_instances, c.cn_region, c.ip_bytes);
  return c.errors == 0 ? 0 : 1;
}
