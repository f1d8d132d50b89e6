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

namespace {
/// Calls `apply(table, keyGroup, bytes)` for every key group of `backend`'s range in `groups`
/// (table name → key group → bytes); a table the operator has not registered is an error.
template <class Apply>
Status forOwnedKeyGroups(StateBackend& backend, const std::map<std::string, std::map<int32_t, std::string>>& groups,
                         Apply&& apply) {
  for (const auto& [name, byGroup] : groups) {
    StateTable* t = backend.findTable(name);
    if (t == nullptr) {
      return Status::failedPrecondition("snapshot has state '" + name +
                                        "' that the operator did not register before restore");
    }
    for (const auto& [kg, bytes] : byGroup) {
      if (!backend.keyGroups().contains(KeyGroup{kg})) continue;
      REKA_RETURN_IF_ERROR(apply(*t, KeyGroup{kg}, bytes));
    }
  }
  return Status::ok();
}
}  // namespace

Status StateBackend::restoreKeyed(const std::map<std::string, std::map<int32_t, std::string>>& snapshot) {
  return forOwnedKeyGroups(*this, snapshot,
                           [](StateTable& t, KeyGroup kg, const std::string& bytes) { return t.restoreKeyGroup(kg, bytes); });
}

Status StateBackend::applyKeyedDelta(const std::map<std::string, std::map<int32_t, std::string>>& delta) {
  return forOwnedKeyGroups(*this, delta,
                           [](StateTable& t, KeyGroup kg, const std::string& bytes) { return t.applyKeyGroupDelta(kg, bytes); });
}

DeltaStats StateBackend::keyedDeltaStats() {
  DeltaStats s;
  for (const auto& name : tableNames()) s += findTable(name)->deltaStats();
  return s;
}

Status StateBackend::checkSerialisable() {
  constexpr const char* kHow = "; specialise reka::Serde<T> for it (reka/state/Serde.h) or run the job without checkpoints";
  for (const auto& name : tableNames())
    if (!findTable(name)->serialisable())
      return Status::notSupported("keyed state '" + name + "' has a key or value type without a Serde" + kHow);
  for (const auto& [name, list] : operatorLists_)
    if (!list->serialisable()) return Status::notSupported("operator state '" + name + "' has an element type without a Serde" + kHow);
  return Status::ok();
}

Result<std::map<std::string, std::vector<std::string>>> StateBackend::snapshotOperatorLists() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, list] : operatorLists_) {
    REKA_ASSIGN_OR_RETURN(out[name], list->snapshot());
  }
  return out;
}

Status StateBackend::restoreOperatorLists(const std::vector<std::map<std::string, std::vector<std::string>>>& oldSubtasks,
                                          int subtask, int parallelism) {
  if (parallelism < 1 || subtask < 0 || subtask >= parallelism)
    return Status::invalidArgument("subtask " + std::to_string(subtask) + " is not in [0, " + std::to_string(parallelism) + ")");
  using Redistribution = OperatorListTable::Redistribution;
  std::map<std::string, std::vector<std::string>> mine;
  std::map<std::string, size_t> seen;
  for (size_t o = 0; o < oldSubtasks.size(); ++o) {
    for (const auto& [name, elements] : oldSubtasks[o]) {
      auto registered = operatorLists_.find(name);
      const Redistribution how = registered != operatorLists_.end() ? registered->second->redistribution : Redistribution::kEvenSplit;
      seen.try_emplace(name, 0);
      if (how == Redistribution::kBroadcast) {
        // Every old subtask holds the same copy: take one.
        if (o == static_cast<size_t>(subtask) % oldSubtasks.size()) mine[name] = elements;
        continue;
      }
      for (const auto& e : elements) {
        if (how == Redistribution::kUnion || seen[name] % static_cast<size_t>(parallelism) == static_cast<size_t>(subtask))
          mine[name].push_back(e);
        ++seen[name];
      }
    }
  }
  for (const auto& [name, count] : seen) {
    auto it = operatorLists_.find(name);
    if (it == operatorLists_.end())
      return Status::failedPrecondition("snapshot has operator state '" + name + "' that was not registered before restore");
    REKA_RETURN_IF_ERROR(it->second->restore(mine[name]));
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

Result<StateTable*> HeapStateBackend::adoptTable(const std::string& name, std::unique_ptr<StateTable> table) {
  auto it = tables_.find(name);
  if (it == tables_.end()) return tables_.emplace(name, std::move(table)).first->second.get();
  if (it->second->type() != table->type())
    return Status::invalidArgument("state '" + name + "' is already registered with another type");
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
