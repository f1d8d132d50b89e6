// A file source with dead letters: writes a small text file of orders ("user,amount" per line,
// two lines malformed) into a temporary directory, reads it with the connector API's file
// source and a decode function of its own, and sends the lines that do not decode to a
// dead-letter file, each with its line number, byte offset and reason. Prints the good records'
// count and total, the source's line counters, and the dead-letter file's lines (with the
// temporary directory shown as <tmp>); then removes its files.
#include <stdlib.h>  // mkdtemp

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/connector/DeadLetters.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/SplitSource.h"
#include "reka/reka.h"

namespace file = reka::connector::file;

struct Order {
  std::string user;
  int64_t amount;
};

/// Decodes one line into an Order, or refuses it: the message becomes the dead letter's reason.
/// Called on the source's connector thread; copied once per source subtask.
struct ParseOrder {
  reka::Status operator()(std::string_view line, std::vector<Order>& out, reka::StringArena& /*arena*/) const {
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos || comma == 0) return reka::Status::invalidArgument("expected user,amount");
    std::string_view amount = line.substr(comma + 1);
    int64_t value = 0;
    auto [end, error] = std::from_chars(amount.data(), amount.data() + amount.size(), value);
    if (error != std::errc() || end != amount.data() + amount.size() || amount.empty())
      return reka::Status::invalidArgument("amount is not a number");
    out.push_back(Order{std::string(line.substr(0, comma)), value});
    return reka::Status::ok();
  }
};

/// The file source's counters: lines read and lines refused (kept alive by the source).
struct LineCounters {
  std::atomic<int64_t> lines{0};
  std::atomic<int64_t> bad{0};
};

/// A fresh directory under the system's temporary directory (mkdtemp), or "" on failure.
std::string makeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "reka-dead-letters-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

int run(const std::string& dir) {
  const std::string input = dir + "/orders.txt";
  const std::string deadLetterPath = dir + "/dead-letters.jsonl";
  {
    std::ofstream out(input);
    out << "alice,30\n"
           "bob,12\n"
           "carol\n"      // line 3: no amount
           "alice,8\n"
           "dave,lots\n"  // line 5: the amount is not a number
           "bob,5\n";
    if (!out.flush()) {
      std::fprintf(stderr, "cannot write %s\n", input.c_str());
      return 1;
    }
  }

  auto counters = std::make_shared<LineCounters>();
  std::atomic<int64_t> good{0}, total{0};
  {
    reka::StreamEnvironment env;
    file::FileSourceOptions options;
    options.path = input;  // a file, or a glob pattern of files; follow = false: read once
    auto deadLetters = std::make_shared<reka::connector::DeadLetterOutput>(deadLetterPath);
    auto spec = file::fileSource<Order>(options, ParseOrder{}, reka::connector::BadRecordPolicy::kDeadLetter, deadLetters,
                                        file::FileSourceCounters{&counters->lines, &counters->bad, counters});
    reka::connector::fromSource(env, "orders", std::move(spec), /*parallelism=*/1)
        .sink("count", [&](const Order& o) {
          good.fetch_add(1);
          total.fetch_add(o.amount);
        });
    if (reka::Status status = env.execute(); !status.isOk()) {
      std::fprintf(stderr, "the file job failed: %s\n", status.toString().c_str());
      return 1;
    }
  }

  // The dead-letter file: one JSON object per bad line.
  std::vector<std::string> letters;
  std::ifstream in(deadLetterPath);
  for (std::string line; std::getline(in, line);) {
    for (size_t at = line.find(dir); at != std::string::npos; at = line.find(dir)) line.replace(at, dir.size(), "<tmp>");
    letters.push_back(line);
  }
  if (good.load() != 4 || letters.size() != 2) {
    std::fprintf(stderr, "expected 4 good records and 2 dead letters, got %lld and %zu\n", static_cast<long long>(good.load()),
                 letters.size());
    return 1;
  }
  std::printf("good records: %lld\n", static_cast<long long>(good.load()));
  std::printf("total amount: %lld\n", static_cast<long long>(total.load()));
  std::printf("lines read: %lld, bad lines: %lld\n", static_cast<long long>(counters->lines.load()),
              static_cast<long long>(counters->bad.load()));
  std::printf("dead letters:\n");
  for (const std::string& l : letters) std::printf("%s\n", l.c_str());
  return 0;
}

int main() {
  const std::string dir = makeTempDir();
  if (dir.empty()) {
    std::perror("mkdtemp");
    return 1;
  }
  const int rc = run(dir);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}
