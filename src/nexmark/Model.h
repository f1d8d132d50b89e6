#pragma once

#include <cstdint>
#include <string_view>

namespace reka::nexmark {

/// NEXMark event records (Flink data model). Timestamps are epoch milliseconds, prices integer
/// cents. String fields are views into memory owned by the batch that carries the record (a
/// StringArena, a read buffer, or the generator's static pools), so records are trivially
/// copyable and cost no allocation.
struct Person {
  int64_t id;
  std::string_view name;
  std::string_view emailAddress;
  std::string_view creditCard;
  std::string_view city;
  std::string_view state;
  int64_t dateTime;
  std::string_view extra;
};

struct Auction {
  int64_t id;
  std::string_view itemName;
  std::string_view description;
  int64_t initialBid;
  int64_t reserve;
  int64_t dateTime;
  int64_t expires;
  int64_t seller;
  int64_t category;
  std::string_view extra;
};

struct Bid {
  int64_t auction;
  int64_t bidder;
  int64_t price;
  std::string_view channel;
  std::string_view url;
  int64_t dateTime;
  std::string_view extra;
};

enum class EventType : int32_t { kPerson = 0, kAuction = 1, kBid = 2 };

/// One event of the NEXMark stream: exactly one of person, auction or bid, chosen by `type`.
struct Event {
  EventType type;
  union {
    Person person;
    Auction auction;
    Bid bid;
  };

  Event() : type(EventType::kBid), bid{} {}
  static Event of(const Person& p) { Event e; e.type = EventType::kPerson; e.person = p; return e; }
  static Event of(const Auction& a) { Event e; e.type = EventType::kAuction; e.auction = a; return e; }
  static Event of(const Bid& b) { Event e; e.type = EventType::kBid; e.bid = b; return e; }

  bool isPerson() const { return type == EventType::kPerson; }
  bool isAuction() const { return type == EventType::kAuction; }
  bool isBid() const { return type == EventType::kBid; }
  /// The event's timestamp (dateTime of whichever record it holds).
  int64_t dateTime() const {
    switch (type) {
      case EventType::kPerson: return person.dateTime;
      case EventType::kAuction: return auction.dateTime;
      case EventType::kBid: return bid.dateTime;
    }
    return 0;
  }
};

}  // namespace reka::nexmark
