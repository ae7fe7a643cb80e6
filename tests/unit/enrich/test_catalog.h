// Test helpers: PolicyDefinitions catalogs built in C++ (the YAML reader is tested elsewhere),
// and a default catalog modelled on /work/shared/POLICY.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/event.h"
#include "policy/definitions.h"

namespace chipwatch::testing {

inline int64_t Day(const char* ymd) { return *ParseDateMs(ymd); }

// Adds entries with positions as a reader would give them: each entry gets a line of its own in
// "catalog.yaml" and each of its attributes (and its `match`) the following lines, in order.
class CatalogBuilder {
 public:
  CatalogEntry& Add(const std::string& catalog, const std::string& name,
                    std::vector<std::pair<std::string, std::string>> attrs,
                    std::vector<std::string> patterns = {},
                    std::optional<int64_t> effective_from = std::nullopt,
                    std::optional<int64_t> effective_until = std::nullopt) {
    auto entry = std::make_unique<CatalogEntry>();
    entry->catalog = catalog;
    entry->name = name;
    entry->source = "test source";
    entry->pos = SourcePos{"catalog.yaml", ++line_, 5};
    for (auto& [key, value] : attrs) {
      entry->attrs[key] = value;
      entry->attr_pos[key] = SourcePos{"catalog.yaml", ++line_, 7};
    }
    if (!patterns.empty()) {
      entry->patterns = std::move(patterns);
      entry->attr_pos["match"] = SourcePos{"catalog.yaml", ++line_, 7};
    }
    entry->effective_from_ms = effective_from;
    entry->effective_until_ms = effective_until;
    CatalogEntry& ref = *entry;
    defs.catalogs[catalog].push_back(std::move(entry));
    return ref;
  }
  int line() const { return line_; }

  PolicyDefinitions defs;

 private:
  int line_ = 0;
};

// A catalog along the lines of the default pack (rules/catalog/), enough to exercise every rule.
inline void AddDefaultCatalog(CatalogBuilder& b) {
  const auto oct2022 = Day("2022-10-07");
  const auto nov2023 = Day("2023-11-17");
  const auto apr2025 = Day("2025-04-09");
  using Attrs = std::vector<std::pair<std::string, std::string>>;
  auto accelerator = [&](const char* name, const char* status, std::vector<std::string> match,
                         std::optional<int64_t> from) {
    b.Add("accelerators", name, Attrs{{"status", status}, {"classification", "3A090.a"}},
          std::move(match), from);
  };
  accelerator("A800", "restricted", {R"(\ba800\b)"}, nov2023);
  accelerator("A100", "restricted", {R"(\ba100\b)"}, oct2022);
  accelerator("H800", "restricted", {R"(\bh800\b)"}, nov2023);
  accelerator("GH200", "restricted", {R"(\bgh200\b)"}, nov2023);
  accelerator("H100", "restricted", {R"(\bh100\b)"}, oct2022);
  accelerator("H200", "restricted", {R"(\bh200\b)"}, oct2022);
  // H20 and MI308: licensable for the embargoed tier only (restricted_tiers).
  b.Add(
      "accelerators", "H20",
      Attrs{
          {"status", "restricted"}, {"classification", "3A090"}, {"restricted_tiers", "embargoed"}},
      {R"(\bh20\b)"}, apr2025);
  accelerator("GB200", "restricted", {R"(\bgb[23]00\b)"}, std::nullopt);
  accelerator("B200", "restricted", {R"(\bb[123]00\b)"}, std::nullopt);
  accelerator("L40S", "restricted", {R"(\bl40s?\b)"}, nov2023);
  accelerator("MI300X", "restricted", {R"(\bmi(250x|300x|325x)\b)"}, oct2022);
  b.Add(
      "accelerators", "MI308",
      Attrs{
          {"status", "restricted"}, {"classification", "3A090"}, {"restricted_tiers", "embargoed"}},
      {R"(\bmi308x?\b)"}, apr2025);
  accelerator("T4", "not_controlled", {R"(\bt4\b)"}, std::nullopt);
  accelerator("V100", "not_controlled", {R"(\bv100\b)"}, std::nullopt);
  for (const char* name : {"L4", "A10G"}) {
    b.Add("accelerators", name, Attrs{{"status", "unclear"}, {"notes", "test: evidence missing"}},
          {std::string(R"(\b)") + (name[0] == 'L' ? "l4" : "a10g") + R"(\b)"});
  }

  auto instance = [&](const char* name, const char* provider, const char* accel, const char* model,
                      const char* count, std::vector<std::string> pattern = {}) {
    Attrs attrs = {{"provider", provider}, {"accelerator", accel}};
    if (model != nullptr) attrs.emplace_back("model", model);
    if (count != nullptr) attrs.emplace_back("count", count);
    b.Add("instance_types", name, attrs, std::move(pattern));
  };
  instance("p4d.24xlarge", "aws", "A100", "NVIDIA A100-SXM4-40GB", "8");
  instance("p5.48xlarge", "aws", "H100", "NVIDIA H100 80GB HBM3", "8");
  instance("p5.4xlarge", "aws", "H100", "NVIDIA H100 80GB HBM3", "1");
  instance("p5e.48xlarge", "aws", "H200", nullptr, "8");
  instance("g6e", "aws", "L40S", "NVIDIA L40S", nullptr, {R"(g6e\..*)"});
  instance("g4dn", "aws", "T4", "NVIDIA T4", nullptr, {R"(g4dn\..*)"});
  instance("a2-highgpu", "gcp", "A100", "NVIDIA A100 40GB", nullptr, {R"(a2-highgpu-\d+g)"});
  instance("a3-highgpu-8g", "gcp", "H100", "NVIDIA H100 80GB", "8");
  instance("Standard_ND96isr_H100_v5", "azure", "H100", nullptr, "8");
  instance("BM.GPU.H100.8", "oci", "H100", nullptr, "8");

  auto destination = [&](const char* code, const char* country, const char* tier) {
    b.Add("destinations", code, Attrs{{"country", country}, {"tier", tier}, {"groups", "D:1 D:4"}});
  };
  destination("CN", "China", "embargoed");
  destination("HK", "Hong Kong", "embargoed");
  destination("RU", "Russia", "embargoed");
  destination("IR", "Iran", "embargoed");
  destination("KP", "North Korea", "embargoed");
  destination("AE", "United Arab Emirates", "licence-required");
  destination("QA", "Qatar", "licence-required");

  auto region = [&](const char* name, const char* provider, const char* country,
                    std::vector<std::string> pattern = {}) {
    b.Add("regions", name, Attrs{{"provider", provider}, {"country", country}}, std::move(pattern));
  };
  region("cn-north-1", "aws", "CN");
  region("cn-northwest-1", "aws", "CN");
  region("ap-east-1", "aws", "HK");
  region("me-central-1", "aws", "AE");
  region("chinanorth", "azure", "CN");
  region("eastasia", "azure", "HK");
  region("asia-east2", "gcp", "HK");
  region("me-central1", "gcp", "QA");
  region("alibaba-cn", "alibaba", "CN", {"cn-.*"});

  b.Add("frontier_models", "anthropic-claude", Attrs{{"vendor", "Anthropic"}},
        {R"((^|[.:/])anthropic\.claude)"});
  b.Add("frontier_models", "openai-gpt", Attrs{{"vendor", "OpenAI"}}, {R"((^|[.:/])openai\.gpt)"});
}

}  // namespace chipwatch::testing
