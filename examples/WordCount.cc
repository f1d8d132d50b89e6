// Word count: split lines into words, keep a running count per word, print the final counts.
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "reka/reka.h"

struct WordCount {
  std::string word;
  int64_t count;
};

int main() {
  reka::StreamEnvironment env;  // one subtask per core by default
  auto lines = env.fromCollection<std::string>("lines", {"to be or not to be", "that is the question", "to be is to do"});
  std::map<std::string, int64_t> totals;
  std::mutex mutex;
  lines.rebalance()
      .flatMap<WordCount>("split", [](const std::string& line, reka::Emitter<WordCount>& out) {
        std::istringstream in(line);
        for (std::string w; in >> w;) out.emit({w, 1});
      })
      .keyBy([](const WordCount& wc) { return wc.word; })
      .reduce("count", [](const WordCount& a, const WordCount& b) { return WordCount{a.word, a.count + b.count}; })
      .sink("collect", [&](const WordCount& wc) {
        std::lock_guard<std::mutex> lock(mutex);
        totals[wc.word] = std::max(totals[wc.word], wc.count);  // rolling counts only grow
      });
  if (reka::Status status = env.execute(); !status.isOk()) {
    std::fprintf(stderr, "word count failed: %s\n", status.toString().c_str());
    return 1;
  }
  for (const auto& [word, count] : totals) std::printf("%s %lld\n", word.c_str(), static_cast<long long>(count));
}
