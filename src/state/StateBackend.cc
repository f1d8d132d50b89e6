#include "reka/state/StateBackend.h"

namespace reka {

Result<std::map<std::string, std::map<int32_t, std::string>>> StateBackend::snapshotKeyed() const {
  std::map<std::string, std::map<int32_t, std::string>> out;
  auto* self = const_cast<StateBackend*>(this);
  for (const auto& name : tableNames()) {
    const StateTable* t = self->findTable(name);
    auto& groups = out[name];
    for (int32_t kg = keyGroups().first; kg <= keyGroups().last; ++kg) {
      REKA_RETURN_IF_ERROR(t->snapshotKeyGroup(KeyGroup{kg}, groups[kg]));
    }
  }
  return out;
}

Status StateBackend::restoreKeyed(const std::map<std::string, std::map<int32_t, std::string>>& snapshot) {
  for (const auto& [name, groups] : snapshot) {
    StateTable* t = findTable(name);
    if (t == nullptr) {
      return Status::failedPrecondition("snapshot has state '" + name +
                                        "' that the operator did not register before restore");
    }
    for (const auto& [kg, bytes] : groups) {
      if (!keyGroups().contains(KeyGroup{kg})) continue;
      REKA_RETURN_IF_ERROR(t->restoreKeyGroup(KeyGroup{kg}, bytes));
    }
  }
  return Status::ok();
}

Result<StateTable*> HeapStateBackend::table(const std::string& name, std::type_index type,
                                            std::unique_ptr<StateTable> (*make)(KeyGroupRange)) {
  auto it = tables_.find(name);
  if (it == tables_.end()) {
    it = tables_.emplace(name, make(range_)).first;
  } else if (it->second->type() != type) {
    return Status::invalidArgument("state '" + name + "' is already registered with another type");
  }
  return it->second.get();
}

std::vector<std::string> HeapStateBackend::tableNames() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : tables_) names.push_back(name);
  return names;
}

StateTable* HeapStateBackend::findTable(const std::string& name) {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second.get();
}

}  // namespace reka
