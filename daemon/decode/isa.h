// Internal to daemon/decode/: which simdjson On-Demand kernel this translation unit is built for.
//
// simdjson 3.0.1's On-Demand API is header-only and compiled only for the "builtin" kernel, which
// without -march is the scalar `fallback` one (stage 1 alone is chosen at run time). So the format
// decoders (every .cc here but decoder.cc) are compiled once per kernel (daemon/CMakeLists.txt,
// option CHIPWATCH_DECODE_ISA); CHIPWATCH_DECODE_ISA names this TU's one:
//   isa_haswell   (-DCHIPWATCH_DECODE_HASWELL) SIMDJSON_BUILTIN_IMPLEMENTATION=haswell; our code
//                 is in an AVX2/BMI target region (the rest of simdjson.h is not), so nothing
//                 but our own namespace is compiled for AVX2 and no inline function shared with
//                 other TUs differs.
//   isa_baseline  whatever the compiler flags allow (fallback on plain x86-64).
// decoder.cc picks one at run time (simdjson's own CPU check). All code of these TUs lives in
// chipwatch::decode_internal::CHIPWATCH_DECODE_ISA, between CHIPWATCH_DECODE_BEGIN/END.
#pragma once

#ifdef CHIPWATCH_DECODE_HASWELL
#define CHIPWATCH_DECODE_ISA isa_haswell
#else
#define CHIPWATCH_DECODE_ISA isa_baseline
#endif

// Everything simdjson.h includes, included first so that no standard header is parsed inside a
// target region.
#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cfloat>
#include <charconv>
#include <cinttypes>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#ifdef CHIPWATCH_DECODE_HASWELL
// The builtin (On-Demand) code calls AVX2 functions, so simdjson.h is compiled in the target
// region too (the standard headers it includes are already parsed above). Inline functions that
// other TUs also define (standard templates, simdjson's common code) may then be emitted here
// compiled for AVX2; decode/isolate_isa_symbols.cmake renames them in these objects before the
// archive is built, so the linker never hands such a copy to baseline code.
#define SIMDJSON_BUILTIN_IMPLEMENTATION haswell
// Plain `inline` rather than always_inline: standard templates instantiated here (std::pair under
// ondemand::field) are not in the target region and could not force-inline AVX2 functions.
#define simdjson_inline inline
#pragma GCC push_options
#pragma GCC target("avx2,bmi,pclmul,lzcnt,popcnt")
#include <simdjson.h>
#pragma GCC pop_options
#else
#include <simdjson.h>
#endif

#ifdef CHIPWATCH_DECODE_HASWELL
#define CHIPWATCH_DECODE_TARGET_BEGIN SIMDJSON_TARGET_REGION("avx2,bmi,pclmul,lzcnt,popcnt")
#define CHIPWATCH_DECODE_TARGET_END SIMDJSON_UNTARGET_REGION
#else
#define CHIPWATCH_DECODE_TARGET_BEGIN
#define CHIPWATCH_DECODE_TARGET_END
#endif

// Opens/closes the per-kernel namespace (and the target region, which must be outside namespaces
// for clang).
#define CHIPWATCH_DECODE_BEGIN \
  CHIPWATCH_DECODE_TARGET_BEGIN namespace chipwatch::decode_internal::CHIPWATCH_DECODE_ISA {
#define CHIPWATCH_DECODE_END \
  }                          \
  CHIPWATCH_DECODE_TARGET_END
