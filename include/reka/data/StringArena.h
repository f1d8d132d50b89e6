#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace reka {

/// Owns the bytes that records' string views point into. Chunks never move, so a view stays
/// valid for the arena's lifetime. Batches keep their arenas alive (see Batch::keepAlive).
/// Not thread-safe while being written; immutable (and so shareable) once handed to a batch.
class StringArena {
 public:
  explicit StringArena(size_t chunkBytes = 16 * 1024) : chunkBytes_(chunkBytes) {}

  /// Copies `s` into the arena and returns a view of the copy.
  std::string_view copy(std::string_view s) {
    char* p = allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  /// Returns `n` writable bytes that stay valid for the arena's lifetime.
  char* allocate(size_t n) {
    if (n == 0) return nullptr;  // nothing to hold; a view of length 0 needs no storage
    if (used_ + n > capacity_) {
      size_t size = n > chunkBytes_ ? n : chunkBytes_;
      chunks_.push_back(std::make_unique<char[]>(size));
      used_ = 0;
      capacity_ = size;
    }
    char* p = chunks_.back().get() + used_;
    used_ += n;
    return p;
  }

  size_t chunkCount() const { return chunks_.size(); }

 private:
  size_t chunkBytes_;
  size_t used_ = 0;
  size_t capacity_ = 0;
  std::vector<std::unique_ptr<char[]>> chunks_;
};

}  // namespace reka
