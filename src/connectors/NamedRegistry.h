#pragma once

// What the connector and format registries share: factories by name, thread-safe, replaced in
// place when registered again (pointers handed out stay valid).

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"

namespace reka::connector {

template <class T>
class NamedRegistry {
 public:
  /// `kind` names the things in messages ("format", "connector").
  NamedRegistry(std::string kind, std::vector<T> builtIn) : kind_(std::move(kind)) {
    for (auto& f : builtIn) items_.push_back(std::make_unique<T>(std::move(f)));
  }

  void add(T factory) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& f : items_) {
      if (f->name == factory.name) {
        *f = std::move(factory);
        return;
      }
    }
    items_.push_back(std::make_unique<T>(std::move(factory)));
  }

  /// The one called `name`, or an error that lists the registered ones.
  Result<const T*> find(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string names;
    for (const auto& f : items_) {
      if (f->name == name) return static_cast<const T*>(f.get());
      names += (names.empty() ? "" : ", ") + f->name;
    }
    return Status::invalidArgument(fmt::format("unknown {} '{}'; registered {}s: {}", kind_, name, kind_, names));
  }

  std::vector<const T*> all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<const T*> out;
    for (const auto& f : items_) out.push_back(f.get());
    return out;
  }

 private:
  std::string kind_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<T>> items_;
};

}  // namespace reka::connector
