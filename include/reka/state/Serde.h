#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace reka {

/// Binary serialization of state values for snapshots. Provided for arithmetic types, strings,
/// pairs, optionals, vectors and flat hash maps; user types specialise `Serde<T>` with
/// `static void write(const T&, std::string&)` and `static bool read(std::string_view&, T&)`.
///
/// A type may also provide `static size_t size(const T&)` and `static char* put(char*, const T&)`
/// (see HasSerdeSized), and a type whose value points to memory elsewhere (a shared_ptr to a
/// record, say) `static void prefetch(const T&)`: it requests that memory (`__builtin_prefetch`)
/// without reading it. Snapshots call it a few entries before write(), so the cache misses of
/// scattered entries overlap instead of stalling one after another.
template <class T, class Enable = void>
struct Serde;

template <class T, class = void>
struct HasSerde : std::false_type {};
template <class T>
struct HasSerde<T, std::void_t<decltype(Serde<T>::write(std::declval<const T&>(), std::declval<std::string&>()))>>
    : std::true_type {};

template <class T, class = void>
struct HasSerdePrefetch : std::false_type {};
template <class T>
struct HasSerdePrefetch<T, std::void_t<decltype(Serde<T>::prefetch(std::declval<const T&>()))>> : std::true_type {};

/// Serde<T>::prefetch(v) where T has one; nothing otherwise.
template <class T>
inline void serdePrefetch(const T& v) {
  if constexpr (HasSerdePrefetch<T>::value) Serde<T>::prefetch(v);
}

/// A Serde that can also say how many bytes write() appends (`static size_t size(const T&)`)
/// and write them at a pointer (`static char* put(char*, const T&)`, returning the end). With
/// it, snapshots that write millions of entries grow their buffer a chunk at a time instead of
/// once per field.
template <class T, class = void>
struct HasSerdeSized : std::false_type {};
template <class T>
struct HasSerdeSized<T, std::void_t<decltype(Serde<T>::size(std::declval<const T&>())),
                                    decltype(Serde<T>::put(std::declval<char*>(), std::declval<const T&>()))>>
    : std::true_type {};

/// Appends `n` bytes to `out` and returns where they start: for writers that know their size up
/// front, one capacity check instead of one call per field. Fill them with putRaw / putBytes.
inline char* appendBytes(std::string& out, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}
/// Writes `v` as Serde<T> does (its bytes, little endian on the platforms Reka supports).
template <class T>
inline char* putRaw(char* p, const T& v) {
  static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>);
  std::memcpy(p, &v, sizeof(T));
  return p + sizeof(T);
}
/// Writes `s` as Serde<std::string> does: u64 length, then the bytes.
inline char* putBytes(char* p, std::string_view s) {
  p = putRaw(p, static_cast<uint64_t>(s.size()));
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

/// Requests `bytes` bytes from `p` on into the cache (a hint: never faults, never reads).
inline void prefetchBytes(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 3);
}

template <class T>
struct Serde<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static void write(const T& v, std::string& out) { out.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  static constexpr size_t size(const T&) { return sizeof(T); }
  static char* put(char* p, const T& v) {
    std::memcpy(p, &v, sizeof(T));
    return p + sizeof(T);
  }
  static bool read(std::string_view& in, T& v) {
    if (in.size() < sizeof(T)) return false;
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return true;
  }
};

template <>
struct Serde<std::string> {
  static void write(const std::string& v, std::string& out) {
    Serde<uint64_t>::write(v.size(), out);
    out.append(v);
  }
  static bool read(std::string_view& in, std::string& v) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || in.size() < n) return false;
    v.assign(in.data(), n);
    in.remove_prefix(n);
    return true;
  }
};

template <class A, class B>
struct Serde<std::pair<A, B>, std::enable_if_t<HasSerde<A>::value && HasSerde<B>::value>> {
  static void prefetch(const std::pair<A, B>& v) {
    serdePrefetch(v.first);
    serdePrefetch(v.second);
  }
  static void write(const std::pair<A, B>& v, std::string& out) {
    Serde<A>::write(v.first, out);
    Serde<B>::write(v.second, out);
  }
  static size_t size(const std::pair<A, B>& v)
    requires(HasSerdeSized<A>::value && HasSerdeSized<B>::value)
  {
    return Serde<A>::size(v.first) + Serde<B>::size(v.second);
  }
  static char* put(char* p, const std::pair<A, B>& v)
    requires(HasSerdeSized<A>::value && HasSerdeSized<B>::value)
  {
    return Serde<B>::put(Serde<A>::put(p, v.first), v.second);
  }
  static bool read(std::string_view& in, std::pair<A, B>& v) {
    return Serde<A>::read(in, v.first) && Serde<B>::read(in, v.second);
  }
};

template <class T>
struct Serde<std::optional<T>, std::enable_if_t<HasSerde<T>::value>> {
  static void prefetch(const std::optional<T>& v) {
    if (v) serdePrefetch(*v);
  }
  static void write(const std::optional<T>& v, std::string& out) {
    Serde<uint8_t>::write(v.has_value() ? 1 : 0, out);
    if (v) Serde<T>::write(*v, out);
  }
  static bool read(std::string_view& in, std::optional<T>& v) {
    uint8_t has = 0;
    if (!Serde<uint8_t>::read(in, has)) return false;
    if (!has) {
      v.reset();
      return true;
    }
    v.emplace();
    return Serde<T>::read(in, *v);
  }
};

template <class T>
struct Serde<std::vector<T>, std::enable_if_t<HasSerde<T>::value>> {
  /// The first elements (up to 256 bytes).
  static void prefetch(const std::vector<T>& v) {
    if (!v.empty()) prefetchBytes(v.data(), std::min<size_t>(v.size() * sizeof(T), 256));
  }
  static void write(const std::vector<T>& v, std::string& out) {
    Serde<uint64_t>::write(v.size(), out);
    for (const auto& x : v) Serde<T>::write(x, out);
  }
  static bool read(std::string_view& in, std::vector<T>& v) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    v.clear();
    // Room for what the input can hold at 8 bytes an element at most: a corrupt count cannot
    // make a small input reserve sizeof(T) bytes per input byte.
    v.reserve(static_cast<size_t>(std::min<uint64_t>(n, in.size() / 8 + 1)));
    for (uint64_t i = 0; i < n; ++i) {
      T x{};
      if (!Serde<T>::read(in, x)) return false;
      v.push_back(std::move(x));
    }
    return true;
  }
};

template <class K, class V, class H, class E, class A>
struct Serde<absl::flat_hash_map<K, V, H, E, A>, std::enable_if_t<HasSerde<K>::value && HasSerde<V>::value>> {
  static void write(const absl::flat_hash_map<K, V, H, E, A>& m, std::string& out) {
    Serde<uint64_t>::write(m.size(), out);
    for (const auto& [k, v] : m) {
      Serde<K>::write(k, out);
      Serde<V>::write(v, out);
    }
  }
  static bool read(std::string_view& in, absl::flat_hash_map<K, V, H, E, A>& m) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    m.clear();
    for (uint64_t i = 0; i < n; ++i) {
      K k{};
      V v{};
      if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v)) return false;
      m.emplace(std::move(k), std::move(v));
    }
    return true;
  }
};

}  // namespace reka
