#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace reka {

/// One iteration of a busy-wait: tells the core the thread is spinning (x86 PAUSE, Arm YIELD),
/// which saves power and lets a sibling hyperthread run.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace reka
