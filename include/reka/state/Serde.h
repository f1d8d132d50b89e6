#pragma once

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
template <class T, class Enable = void>
struct Serde;

template <class T, class = void>
struct HasSerde : std::false_type {};
template <class T>
struct HasSerde<T, std::void_t<decltype(Serde<T>::write(std::declval<const T&>(), std::declval<std::string&>()))>>
    : std::true_type {};

template <class T>
struct Serde<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static void write(const T& v, std::string& out) { out.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
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
  static void write(const std::pair<A, B>& v, std::string& out) {
    Serde<A>::write(v.first, out);
    Serde<B>::write(v.second, out);
  }
  static bool read(std::string_view& in, std::pair<A, B>& v) {
    return Serde<A>::read(in, v.first) && Serde<B>::read(in, v.second);
  }
};

template <class T>
struct Serde<std::optional<T>, std::enable_if_t<HasSerde<T>::value>> {
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
  static void write(const std::vector<T>& v, std::string& out) {
    Serde<uint64_t>::write(v.size(), out);
    for (const auto& x : v) Serde<T>::write(x, out);
  }
  static bool read(std::string_view& in, std::vector<T>& v) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    v.clear();
    v.resize(n);
    for (auto& x : v)
      if (!Serde<T>::read(in, x)) return false;
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
