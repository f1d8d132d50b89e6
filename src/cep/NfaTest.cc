// The NFA against the worked examples of Flink CEP's documentation: the same inputs give the
// same matches.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cep/NfaTesting.h"
#include "reka/cep/Nfa.h"

namespace reka::cep {
namespace {

using namespace nfatest;  // NOLINT

TEST(NfaTest, ContiguityBetweenTwoPatterns) {
  // "a b" over "a c b1 b2".
  EXPECT_EQ(run(Pattern<Ev>::begin("a").where(kind('a')).next("b").where(kind('b')), "a c b1 b2"), V{});
  EXPECT_EQ(run(Pattern<Ev>::begin("a").where(kind('a')).followedBy("b").where(kind('b')), "a c b1 b2"), V{"a b1"});
  EXPECT_EQ(run(Pattern<Ev>::begin("a").where(kind('a')).followedByAny("b").where(kind('b')), "a c b1 b2"),
            (V{"a b1", "a b2"}));
}

TEST(NfaTest, ConsecutiveAndCombinationsInALoop) {
  auto base = [] { return Pattern<Ev>::begin("start").where(kind('c')).followedBy("middle").where(kind('a')).oneOrMore(); };
  const std::string in = "c d a1 a2 a3 d a4 b";
  EXPECT_EQ(run(base().consecutive().followedBy("end1").where(kind('b')), in), (V{"c a1 a2 a3 b", "c a1 a2 b", "c a1 b"}));
  EXPECT_EQ(run(base().followedBy("end1").where(kind('b')), in),
            (V{"c a1 a2 a3 a4 b", "c a1 a2 a3 b", "c a1 a2 b", "c a1 b"}));
  EXPECT_EQ(run(base().allowCombinations().followedBy("end1").where(kind('b')), in),
            (V{"c a1 a2 a3 a4 b", "c a1 a2 a3 b", "c a1 a2 a4 b", "c a1 a2 b", "c a1 a3 a4 b", "c a1 a3 b", "c a1 a4 b", "c a1 b"}));
}

TEST(NfaTest, UntilStopsALoop) {
  // (a+ until b) over "a1 c a2 b a3": {a1 a2} {a1} {a2} {a3}.
  auto p = Pattern<Ev>::begin("a").where(kind('a')).oneOrMore().until(kind('b'));
  EXPECT_EQ(run(p, "a1 c a2 b a3"), (V{"a1", "a1 a2", "a2", "a3"}));
}

V skipRun(AfterMatchSkipStrategy skip) {
  // As in Flink's documentation and its AfterMatchSkipITCase: b+ is consecutive and greedy.
  auto p = Pattern<Ev>::begin("b", skip).where(kind('b')).oneOrMore().consecutive().greedy().next("c").where(kind('c'));
  return run(p, "b1 b2 b3 c");
}

TEST(NfaTest, SkipStrategiesOnBPlusC) {
  EXPECT_EQ(skipRun(AfterMatchSkipStrategy::noSkip()), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(skipRun(AfterMatchSkipStrategy::skipToNext()), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(skipRun(AfterMatchSkipStrategy::skipPastLastEvent()), (V{"b1 b2 b3 c"}));
  EXPECT_EQ(skipRun(AfterMatchSkipStrategy::skipToFirst("b")), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(skipRun(AfterMatchSkipStrategy::skipToLast("b")), (V{"b1 b2 b3 c", "b3 c"}));
}

TEST(NfaTest, SkipToFirstOnAGreedyLoop) {
  // (a | b | c) (b | c) c+.greedy d over "a b c1 c2 c3 d".
  auto make = [](AfterMatchSkipStrategy skip) {
    return Pattern<Ev>::begin("a", skip)
        .where(kind('a'))
        .orWhere(kind('b'))
        .orWhere(kind('c'))
        .followedBy("b")
        .where(kind('b'))
        .orWhere(kind('c'))
        .followedBy("c")
        .where(kind('c'))
        .oneOrMore()
        .greedy()
        .followedBy("d")
        .where(kind('d'));
  };
  EXPECT_EQ(run(make(AfterMatchSkipStrategy::noSkip()), "a b c1 c2 c3 d"), (V{"a b c1 c2 c3 d", "b c1 c2 c3 d", "c1 c2 c3 d"}));
  EXPECT_EQ(run(make(AfterMatchSkipStrategy::skipToFirst("c")), "a b c1 c2 c3 d"), (V{"a b c1 c2 c3 d", "c1 c2 c3 d"}));
}

TEST(NfaTest, SkipToNextOnALoopAtTheEnd) {
  auto make = [](AfterMatchSkipStrategy skip) {
    return Pattern<Ev>::begin("a", skip).where(kind('a')).followedBy("b").where(kind('b')).oneOrMore();
  };
  EXPECT_EQ(run(make(AfterMatchSkipStrategy::noSkip()), "a b1 b2 b3"), (V{"a b1", "a b1 b2", "a b1 b2 b3"}));
  EXPECT_EQ(run(make(AfterMatchSkipStrategy::skipToNext()), "a b1 b2 b3"), (V{"a b1"}));
}

TEST(NfaTest, WithinTimesOutPartialMatches) {
  auto p = Pattern<Ev>::begin("a").where(kind('a')).followedBy("b").where(kind('b')).within(3);
  V timedOut;
  // a1 at 1, a2 at 2, x at 3, b at 4: a1 is 3 ms old at b (timed out), a2 matches.
  EXPECT_EQ(run(p, "a1 a2 x b", &timedOut), (V{"a2 b"}));
  EXPECT_EQ(timedOut, (V{"a1"}));
}

TEST(NfaTest, NotFollowedByAtTheEndWaitsForTheWindow) {
  // a, and no b within 3 ms of it (Flink's pending state): the match is given when the window
  // has passed without a b.
  auto p = Pattern<Ev>::begin("a").where(kind('a')).notFollowedBy("b").where(kind('b')).within(3);
  // a1 at 1, x at 2, a2 at 3, b at 4: a1's window ends at 4, before the b is seen; a2's b comes.
  EXPECT_EQ(run(p, "a1 x a2 b"), (V{"a1"}));
  EXPECT_EQ(run(p, "a1 b x x x"), V{});
  EXPECT_EQ(run(p, "a1 a2 x x x"), (V{"a1", "a2"}));
  // a, then c, then no b within 5 ms of the a.
  auto q = Pattern<Ev>::begin("a").where(kind('a')).followedBy("c").where(kind('c')).notFollowedBy("b").where(kind('b')).within(5);
  EXPECT_EQ(run(q, "a c1 b x x x x"), V{});
  EXPECT_EQ(run(q, "a c1 x c2 x x x"), (V{"a c1"}));
  // Without within() it could never be given.
  auto noWindow = Nfa<Ev>::compile(Pattern<Ev>::begin("a").where(kind('a')).notFollowedBy("b").where(kind('b')));
  ASSERT_FALSE(noWindow.isOk());
  EXPECT_NE(noWindow.status().message().find("only with within()"), std::string::npos) << noWindow.status().message();
}

TEST(NfaTest, CompileErrorsSayWhatIsWrong) {
  auto bad = Nfa<Ev>::compile(Pattern<Ev>::begin("a").followedBy("a"));
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("used twice"), std::string::npos);
  auto greedySingle = Nfa<Ev>::compile(Pattern<Ev>::begin("a").greedy());
  ASSERT_FALSE(greedySingle.isOk());
  EXPECT_NE(greedySingle.status().message().find("greedy"), std::string::npos);
  auto skip = Nfa<Ev>::compile(Pattern<Ev>::begin("a", AfterMatchSkipStrategy::skipToLast("zz")).followedBy("b"));
  ASSERT_FALSE(skip.isOk());
  EXPECT_NE(skip.status().message().find("'zz'"), std::string::npos);
}

}  // namespace
}  // namespace reka::cep
