// StringHash: a transparent hash for string-keyed unordered maps, so that a lookup by
// std::string_view (an event's value, a slice of a buffer) does not build a std::string. Use with
// std::equal_to<>; StringMap<V> is the usual map. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chipwatch {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace chipwatch
