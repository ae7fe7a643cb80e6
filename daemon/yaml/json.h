// YAML to JSON: a rule test's `event` (a YAML mapping in the rule file) as the JSON record the
// decoders read, with YAML's core schema deciding which plain scalars are null, bools and numbers.
// Reentrant; no shared state.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace chipwatch::yaml {

// Appends `n` as JSON. Plain scalars the core schema reads as null, a bool or a number are JSON
// null, true/false or numbers, except numbers with leading zeros (account ids), which stay strings;
// every other scalar is a string. Keys that are not scalars become "".
void AppendJson(const YAML::Node& n, std::string& out);

// True for text the core schema reads as an integer or a float ("12", "-3", "1.5e3", ".5").
bool LooksLikeNumber(std::string_view s);

}  // namespace chipwatch::yaml
