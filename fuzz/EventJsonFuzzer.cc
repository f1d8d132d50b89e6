// Fuzzes the NEXMark JSON event decoder (reka::nexmark::EventParser). The input is split at
// '\n' into up to kMaxLines lines, parsed one after another by one parser (so buffer reuse and
// growth are exercised too). Every line that parses is written back with appendEventJson and
// parsed again by a second parser: the fields must come back the same, and writing them again
// must give the same bytes (the writer's output is canonical).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reka/data/StringArena.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/Model.h"

namespace {

using reka::nexmark::Auction;
using reka::nexmark::Bid;
using reka::nexmark::Event;
using reka::nexmark::EventType;
using reka::nexmark::Person;

constexpr size_t kMaxLines = 16;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool samePerson(const Person& a, const Person& b) {
  return a.id == b.id && a.name == b.name && a.emailAddress == b.emailAddress && a.creditCard == b.creditCard &&
         a.city == b.city && a.state == b.state && a.dateTime == b.dateTime && a.extra == b.extra;
}

bool sameAuction(const Auction& a, const Auction& b) {
  return a.id == b.id && a.itemName == b.itemName && a.description == b.description &&
         a.initialBid == b.initialBid && a.reserve == b.reserve && a.dateTime == b.dateTime &&
         a.expires == b.expires && a.seller == b.seller && a.category == b.category && a.extra == b.extra;
}

bool sameBid(const Bid& a, const Bid& b) {
  return a.auction == b.auction && a.bidder == b.bidder && a.price == b.price && a.channel == b.channel &&
         a.url == b.url && a.dateTime == b.dateTime && a.extra == b.extra;
}

bool sameEvent(const Event& a, const Event& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case EventType::kPerson:
      return samePerson(a.person, b.person);
    case EventType::kAuction:
      return sameAuction(a.auction, b.auction);
    case EventType::kBid:
      return sameBid(a.bid, b.bid);
  }
  return false;
}

void roundTrip(const Event& event, reka::nexmark::EventParser& parser, reka::StringArena& arena) {
  check(event.type == EventType::kPerson || event.type == EventType::kAuction || event.type == EventType::kBid);
  std::string line;
  appendEventJson(event, line);
  auto again = parser.parse(line, arena);
  check(again.isOk());
  check(sameEvent(event, *again));
  std::string second;
  appendEventJson(*again, second);
  check(second == line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  reka::StringArena arena;
  reka::nexmark::EventParser parser;
  reka::nexmark::EventParser writtenBackParser;
  for (size_t n = 0; n < kMaxLines; ++n) {
    const size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    auto event = parser.parse(line, arena);
    if (event.isOk()) {
      roundTrip(*event, writtenBackParser, arena);
    } else {
      check(!event.status().isOk());
      check(!event.status().message().empty());
    }
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return 0;
}
