#pragma once

// Who needs the REST token: the rule RestServer's pre-routing handler applies, apart from the
// server so that it is tested without binding beyond loopback.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace reka::web {

/// Whether `address` (what the server binds) reaches this machine only: 127.0.0.0/8, ::1,
/// ::ffff:127.x.y.z, or "localhost". Anything else (0.0.0.0, ::, a LAN address) is reachable
/// from other machines.
inline bool isLoopbackAddress(const std::string& address) {
  in_addr a4{};
  if (inet_pton(AF_INET, address.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, address.c_str(), &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return address == "localhost";
}

/// Whether HTTP `method` only reads (GET, HEAD): every other call may change a job.
inline bool readOnlyMethod(const std::string& method) {
  return method == "GET" || method == "HEAD";
}

/// Whether a call with HTTP `method` to a server bound to `bindAddress` needs the bearer token:
/// every call that may change a job (anything but GET and HEAD), and every call at all when the
/// server is reachable beyond loopback.
inline bool tokenRequired(const std::string& bindAddress, const std::string& method) {
  return !readOnlyMethod(method) || !isLoopbackAddress(bindAddress);
}

/// Compares without leaking where the first difference is.
inline bool sameToken(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace reka::web
