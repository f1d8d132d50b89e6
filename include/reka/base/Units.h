#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reka {

/// Parses a duration as the command line and configuration accept it: a whole number followed
/// by `ms`, `s`, `m`/`min`, `h` or `d` ("500ms", "1s", "2m", "1h"), or a bare "0" (off).
/// Returns nullopt for anything else: no sign, no fraction, no spaces, and nothing that would
/// not fit in 64-bit milliseconds.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

/// Parses a byte size: a whole number with an optional unit `B`, `KiB`/`K`/`KB`, `MiB`/`M`/`MB`,
/// `GiB`/`G`/`GB`, `TiB`/`T`/`TB` (all binary: K = 1024), e.g. "1048576", "64KiB", "1M", "2GiB".
/// Returns nullopt for anything else, including values that do not fit in 63 bits.
std::optional<int64_t> parseByteSize(std::string_view text);

/// Epoch milliseconds as UTC ISO 8601 with milliseconds: "2015-07-15T00:16:06.034Z"; "-" for
/// INT64_MIN (no time yet) and "end" for INT64_MAX.
std::string formatUtcMillis(int64_t ms);

/// `bytes` random bytes (from the operating system) in lower-case hex: ids and tokens.
std::string randomHex(size_t bytes);

}  // namespace reka
