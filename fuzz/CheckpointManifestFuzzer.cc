// Fuzzes the checkpoint MANIFEST reader (CheckpointStorage::parseManifest) and what reads the
// file names it returns (chainsByTask).
//
// A manifest ends in an XXH3-64 of the bytes before it, which random bytes never match. So the
// input is parsed twice: as it is (the checksum path), and with its checksum appended, which is
// where the rest of the parser is reached. The seed corpus therefore holds manifests without
// their last 8 bytes. A manifest that parses must encode back to the same bytes (the format
// has one encoding per manifest, except that any non-zero `finished` byte means true).
//
// `REKA_FUZZ_WRITE_SEEDS=DIR checkpoint_manifest_fuzzer` writes manifests made by
// CheckpointStorage::complete (checkpoints, savepoints, incremental chains), without their
// checksums, to DIR and exits; fuzz/corpus/checkpoint_manifest_fuzzer also holds manifests of
// real `reka nexmark run` checkpoints (see fuzz/README.md).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

#include "checkpoint/CheckpointStorage.h"

namespace {

using reka::checkpoint::CheckpointData;
using reka::checkpoint::CheckpointStorage;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putStr(std::string& out, std::string_view s) {
  putU64(out, s.size());
  out.append(s);
}

/// The manifest format of docs/checkpoints.md, written independently of the engine's writer:
/// "REKAMF01", u32 version, u64 id, u8 kind, u8 finished, u64 wall time, str fingerprint,
/// u32 files, files × (str name, u64 size, u64 checksum); no checksum.
std::string encode(const CheckpointStorage::Manifest& m, uint32_t version, uint8_t finishedByte) {
  std::string out = "REKAMF01";
  putU32(out, version);
  putU64(out, static_cast<uint64_t>(m.id));
  out.push_back(static_cast<char>(m.kind));
  out.push_back(static_cast<char>(finishedByte));
  putU64(out, static_cast<uint64_t>(m.wallTimeMs));
  putStr(out, m.jobFingerprint);
  putU32(out, static_cast<uint32_t>(m.files.size()));
  for (const auto& f : m.files) {
    putStr(out, f.name);
    putU64(out, f.size);
    putU64(out, f.checksum);
  }
  return out;
}

bool sharedName(const std::string& name) { return name.rfind("../shared/", 0) == 0; }

/// Names a manifest may hold: a file of the checkpoint's own directory, `../chk-<digits>/<file>`
/// or `../shared/<file>`.
bool plausibleName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  const size_t slash = name.find('/');
  if (slash == std::string::npos) return true;
  if (sharedName(name)) {
    const std::string file = name.substr(10);
    return !file.empty() && file != "." && file != ".." && file.find('/') == std::string::npos;
  }
  if (name.rfind("../chk-", 0) != 0) return false;
  const std::string file = name.substr(name.find('/', 7) + 1);
  return !file.empty() && file != "." && file != ".." && file.find('/') == std::string::npos;
}

void fuzzWithChecksum(std::string_view body) {
  std::string bytes(body);
  putU64(bytes, XXH3_64bits(body.data(), body.size()));
  auto parsed = CheckpointStorage::parseManifest(bytes);
  if (!parsed.isOk()) {
    check(parsed.status().code() == reka::StatusCode::kCorruption);
    return;
  }
  const CheckpointStorage::Manifest& m = *parsed;
  check(body.size() >= 22);  // magic, version, id, kind, finished
  uint32_t version = 0;
  std::memcpy(&version, body.data() + 8, sizeof version);  // little endian (x86-64, arm64)
  check(version == 1 || version == 2);
  const uint8_t finishedByte = static_cast<uint8_t>(body[21]);
  check(m.finished == (finishedByte != 0));
  check(encode(m, version, finishedByte) == body);
  for (const auto& f : m.files) check(plausibleName(f.name));

  // What a restore does next with the names: group them into per-task chains.
  CheckpointData data;
  data.id = m.id;
  data.kind = m.kind;
  data.files = m.files;
  const auto chains = reka::checkpoint::chainsByTask(data);
  size_t chained = 0, shared = 0;
  for (const auto& f : m.files) shared += sharedName(f.name) ? 1 : 0;
  for (const auto& chain : chains) {
    chained += chain.size();
    for (const auto& f : chain) check(f.name.rfind("../chk-", 0) == 0);
  }
  check(chains.empty() || chained + shared == m.files.size());
}

void writeFile(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  check(f != nullptr);
  check(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  check(std::fclose(f) == 0);
}

/// Writes the manifest of checkpoint `id` with `files` through CheckpointStorage into a scratch
/// state directory, and copies it without its checksum to `out` (with it too if `whole`, for
/// the first parse).
void writeSeed(const std::string& scratch, const std::string& out, int64_t id, reka::checkpoint::CheckpointKind kind,
               bool finished, const std::string& fingerprint, const std::vector<reka::checkpoint::FileEntry>& files,
               bool whole = false) {
  CheckpointStorage storage(scratch, nullptr);
  check(storage.begin(id, kind).isOk());
  check(storage.complete(id, kind, finished, fingerprint, files).isOk());
  auto bytes = storage.fs().readFile(storage.directoryFor(id, kind) + "/MANIFEST");
  check(bytes.isOk() && bytes->size() >= 8);
  writeFile(out, std::string_view(*bytes).substr(0, bytes->size() - 8));
  if (whole) writeFile(out + "-with-checksum", *bytes);
}

void writeSeeds(const std::string& dir) {
  using reka::checkpoint::CheckpointKind;
  using reka::checkpoint::FileEntry;
  std::filesystem::create_directories(dir);
  const std::string scratch = dir + "/.scratch-state";
  const std::string fingerprint = "q5|source:1|window:2|sink:1";
  const std::vector<FileEntry> full = {{"task-0.state", 1234, 0x1122334455667788}, {"task-1.state", 99, 42}};
  writeSeed(scratch, dir + "/engine-checkpoint", 3, CheckpointKind::kCheckpoint, false, fingerprint, full, true);
  writeSeed(scratch, dir + "/engine-savepoint-finished", 9, CheckpointKind::kSavepoint, true, fingerprint, full);
  writeSeed(scratch, dir + "/engine-empty", 1, CheckpointKind::kCheckpoint, false, "", {});
  // An incremental chain: task 0's full snapshot in checkpoint 4, deltas in 5 and 6.
  const std::vector<FileEntry> chain = {
      CheckpointStorage::sharedEntry(4, {"task-0.state", 5000, 1}),
      CheckpointStorage::sharedEntry(5, {"task-0.state", 300, 2}),
      {"task-0.state", 200, 3},
      CheckpointStorage::sharedEntry(4, {"task-1.state", 4000, 4}),
      {"task-1.state", 100, 5}};
  writeSeed(scratch, dir + "/engine-incremental", 6, CheckpointKind::kCheckpoint, false, fingerprint, chain);
  // Native RocksDB snapshots: the state files, then the table files they refer to.
  const std::vector<FileEntry> native = {{"task-0.state", 900, 6},
                                         {"../shared/0123456789abcdef-000012.sst", 1 << 20, 7},
                                         {"../shared/0123456789abcdef-000015.sst", 4096, 8}};
  writeSeed(scratch, dir + "/engine-native", 7, CheckpointKind::kCheckpoint, false, fingerprint, native);
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("REKA_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  writeSeeds(dir);
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto raw = CheckpointStorage::parseManifest(input);
  if (!raw.isOk()) check(raw.status().code() == reka::StatusCode::kCorruption);
  fuzzWithChecksum(input);
  return 0;
}
