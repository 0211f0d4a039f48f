// tests/core/replay_window_test.cpp — ReplayWindow against replay_window_sequence.json (the
// wireguard-go / kernel table) and against a naive std::set model over random operations.
#include "core/replay_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/messages.hpp"

#ifndef WG_VECTORS_DIR
#error "WG_VECTORS_DIR must be defined (tests/CMakeLists.txt does it)"
#endif

namespace {

using wg::core::kRejectAfterMessages;
using wg::core::ReplayWindow;

constexpr uint64_t W = ReplayWindow::kWindowSize;
constexpr uint64_t R = kRejectAfterMessages;

nlohmann::json load_sequence_file() {
  std::ifstream f(std::string(WG_VECTORS_DIR) + "/replay_window_sequence.json");
  if (!f) throw std::runtime_error("cannot open replay_window_sequence.json");
  return nlohmann::json::parse(f);
}

// Evaluates the file's symbolic counters: a sum of terms, each a decimal number or
// [k*]SYMBOL with SYMBOL one of W, LIM (= W + 1), R. Arithmetic is modulo 2^64.
uint64_t eval_counter(const std::string& expr) {
  const std::map<std::string, uint64_t> symbols = {{"W", W}, {"LIM", W + 1}, {"R", R}};
  uint64_t total = 0;
  size_t i = 0;
  bool negative = false;
  bool expect_term = true;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == ' ') {
      ++i;
    } else if (!expect_term && (c == '+' || c == '-')) {
      negative = c == '-';
      expect_term = true;
      ++i;
    } else if (expect_term) {
      uint64_t factor = 1;
      uint64_t value = 0;
      if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t used = 0;
        value = std::stoull(expr.substr(i), &used);
        i += used;
        if (i < expr.size() && expr[i] == '*') {
          factor = value;
          ++i;
          value = 0;
        } else {
          factor = 0;  // a plain number, already in value
          total += negative ? uint64_t{0} - value : value;
        }
      }
      if (factor != 0) {
        size_t j = i;
        while (j < expr.size() && std::isalpha(static_cast<unsigned char>(expr[j]))) ++j;
        const auto it = symbols.find(expr.substr(i, j - i));
        if (it == symbols.end()) throw std::runtime_error("unknown symbol in counter `" + expr + "'");
        value = factor * it->second;
        total += negative ? uint64_t{0} - value : value;
        i = j;
      }
      expect_term = false;
      negative = false;
    } else {
      throw std::runtime_error("cannot parse counter `" + expr + "'");
    }
  }
  if (expect_term) throw std::runtime_error("incomplete counter `" + expr + "'");
  return total;
}

// One fed counter and whether the filter must accept it.
using Feed = std::vector<std::pair<uint64_t, bool>>;

// The file's bulk patterns (wireguard-go replay_test.go), written out as feeds. The kernel
// variants are included: with the same window they must hold as well.
std::map<std::string, std::vector<Feed>> bulk_feeds() {
  std::map<std::string, std::vector<Feed>> m;
  auto up = [](Feed& f, uint64_t from, uint64_t to) {
    for (uint64_t c = from; c <= to; ++c) f.emplace_back(c, true);
  };
  auto down = [](Feed& f, uint64_t from, uint64_t to) {
    for (uint64_t c = from;; --c) {
      f.emplace_back(c, true);
      if (c == to) break;
    }
  };
  {
    Feed f;
    up(f, 1, W);
    f.emplace_back(0, true);
    f.emplace_back(0, false);
    m["bulk1"] = {f};
  }
  {
    Feed f;
    up(f, 2, W + 1);
    f.emplace_back(1, true);
    f.emplace_back(0, false);
    m["bulk2"] = {f};
  }
  {
    Feed go, kernel;
    down(go, W + 1, 1);
    down(kernel, W, 0);
    m["bulk3"] = {go, kernel};
  }
  {
    Feed go, kernel;
    down(go, W + 2, 2);
    go.emplace_back(0, false);
    down(kernel, W + 1, 1);
    kernel.emplace_back(0, false);
    m["bulk4"] = {go, kernel};
  }
  {
    Feed f;
    down(f, W, 1);
    f.emplace_back(W + 1, true);
    f.emplace_back(0, false);
    m["bulk5"] = {f};
  }
  {
    Feed f;
    down(f, W, 1);
    f.emplace_back(0, true);
    f.emplace_back(W + 1, true);
    m["bulk6"] = {f};
  }
  return m;
}

// The obviously-correct model: every accepted counter in a set, plus the greatest one.
class NaiveWindow {
 public:
  bool would_accept(uint64_t c) const {
    if (c >= R) return false;
    if (c < greatest_ && greatest_ - c > W) return false;
    return seen_.count(c) == 0;
  }
  bool update(uint64_t c) {
    if (!would_accept(c)) return false;
    seen_.insert(c);
    if (c > greatest_) greatest_ = c;
    // Counters more than W behind can never be accepted again: forget them.
    if (greatest_ > W) seen_.erase(seen_.begin(), seen_.lower_bound(greatest_ - W));
    return true;
  }
  void reset() {
    seen_.clear();
    greatest_ = 0;
  }
  uint64_t greatest() const { return greatest_; }

 private:
  std::set<uint64_t> seen_;
  uint64_t greatest_ = 0;
};

}  // namespace

TEST_CASE("ReplayWindow: constants and layout") {
  CHECK(ReplayWindow::kWindowSize == 8128);
  CHECK(R == ~uint64_t{0} - 8192);  // 2^64 - 2^13 - 1
  CHECK(std::is_trivially_copyable_v<ReplayWindow>);
  CHECK(sizeof(ReplayWindow) == 128 * 8 + 8);  // the ring and the greatest counter, nothing else
  CHECK(eval_counter("3*LIM+1") == 3 * (W + 1) + 1);
  CHECK(eval_counter("R-3") == R - 3);
  CHECK(eval_counter("17") == 17);
}

TEST_CASE("ReplayWindow: replay_window_sequence.json, every step") {
  const nlohmann::json doc = load_sequence_file();
  REQUIRE(doc.contains("_about"));
  REQUIRE(doc.at("W").get<uint64_t>() == W);
  const nlohmann::json& seq = doc.at("sequence");
  REQUIRE(seq.is_array());

  ReplayWindow window;
  size_t steps = 0;
  for (const nlohmann::json& s : seq) {
    const int step = s.at("step").get<int>();
    const std::string expr = s.at("counter").get<std::string>();
    const bool accept = s.at("accept").get<bool>();
    const uint64_t counter = eval_counter(expr);
    CAPTURE(step);
    CAPTURE(expr);
    CAPTURE(counter);
    CHECK(step == static_cast<int>(steps) + 1);  // in order, none missing
    if (s.contains("counter_if_W_8128")) CHECK(s.at("counter_if_W_8128").get<uint64_t>() == counter);
    CHECK(window.check(counter) == accept);
    CHECK(window.update(counter) == accept);
    CHECK_FALSE(window.check(counter));  // seen now, or never acceptable
    ++steps;
  }
  CHECK(steps == seq.size());
  CHECK(steps == 34);  // the table as transcribed: 24 small-counter steps and 10 around R
}

TEST_CASE("ReplayWindow: replay_window_sequence.json, bulk patterns") {
  const nlohmann::json doc = load_sequence_file();
  const auto feeds = bulk_feeds();
  const nlohmann::json& bulk = doc.at("bulk");
  REQUIRE(bulk.size() == feeds.size());
  for (const nlohmann::json& b : bulk) {
    const std::string name = b.at("name").get<std::string>();
    CAPTURE(name);
    CAPTURE(b.at("feed").get<std::string>());
    CHECK(b.at("fresh_filter").get<bool>());
    const auto it = feeds.find(name);
    REQUIRE(it != feeds.end());
    for (size_t variant = 0; variant < it->second.size(); ++variant) {
      CAPTURE(variant);
      ReplayWindow window;
      size_t mismatches = 0, fed = 0;
      for (const auto& [counter, accept] : it->second[variant]) {
        ++fed;
        if (window.check(counter) != accept || window.update(counter) != accept) {
          if (++mismatches <= 5) CHECK_MESSAGE(false, "counter ", counter, " expected accept=", accept);
        }
      }
      CHECK(mismatches == 0);
      CHECK(fed >= W);
    }
  }
}

TEST_CASE("ReplayWindow: window edges, limits and reset") {
  ReplayWindow w;
  REQUIRE(w.update(100000));
  CHECK(w.check(100000 - W));        // exactly W behind: still inside
  CHECK_FALSE(w.check(100000 - W - 1));
  CHECK_FALSE(w.update(100000 - W - 1));
  CHECK(w.update(100000 - W));
  CHECK_FALSE(w.update(100000 - W));
  CHECK_FALSE(w.update(100000));

  // A jump of more than a whole ring forgets everything behind the new window.
  REQUIRE(w.update(100000 + 10 * W));
  CHECK_FALSE(w.check(100000));
  CHECK(w.check(100000 + 9 * W));
  CHECK(w.greatest() == 100000 + 10 * W);

  CHECK_FALSE(w.check(R));
  CHECK_FALSE(w.update(R));
  CHECK_FALSE(w.update(~uint64_t{0}));
  CHECK(w.update(R - 1));
  CHECK_FALSE(w.update(R - 1));
  CHECK(w.greatest() == R - 1);

  w.reset();
  CHECK(w.greatest() == 0);
  CHECK(w.check(0));
  CHECK(w.check(100000));
  CHECK(w.update(0));
  CHECK_FALSE(w.update(0));
}

TEST_CASE("ReplayWindow: check() never changes state") {
  std::mt19937_64 rng(12345);
  ReplayWindow w;
  for (uint64_t c = 5000; c < 30000; c += 1 + rng() % 5) (void)w.update(c);
  const ReplayWindow before = w;
  // Probe a range around the window, including counters check() would accept.
  for (uint64_t c = 15000; c < 40000; ++c) (void)w.check(c);
  for (uint64_t c = R - 5; c != R + 5; ++c) (void)w.check(c);
  CHECK(w.greatest() == before.greatest());
  size_t differ = 0;
  for (uint64_t c = 15000; c < 40000; ++c) differ += w.check(c) != before.check(c);
  CHECK(differ == 0);
  // And the states evolve identically from here.
  ReplayWindow copy = before;
  for (uint64_t c = 20000; c < 45000; c += 3) differ += w.update(c) != copy.update(c);
  CHECK(differ == 0);
}

TEST_CASE("ReplayWindow: differential test against a naive std::set model") {
  uint64_t seeds[2] = {0x5eed0fdeadbeefULL, std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32)};
  if (const char* s = std::getenv("WG_TEST_SEED")) seeds[1] = std::strtoull(s, nullptr, 0);
  for (const uint64_t seed : seeds) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
    ReplayWindow window;
    NaiveWindow model;
    uint64_t accepted = 0, rejected = 0;
    constexpr int kOps = 200000;
    for (int op = 0; op < kOps; ++op) {
      const uint64_t g = model.greatest();
      uint64_t c = 0;
      const uint64_t kind = below(100);
      if (kind < 40) {
        c = g - std::min(g, below(W + 1));  // inside the window, boundary included
      } else if (kind < 55) {
        c = g + 1 + below(300);  // just ahead
      } else if (kind < 63) {
        const uint64_t base = g > W ? g - W : 0;  // around the trailing edge
        c = base + below(5) - std::min(base, below(5));
      } else if (kind < 73) {
        c = below(g + 1);  // anywhere old
      } else if (kind < 80) {
        c = g + W - 64 + below(3 * 64 * 128);  // far future: partial and whole-ring jumps
      } else if (kind < 88) {
        c = g - std::min(g, below(64));  // recent: mostly duplicates
      } else if (kind < 89) {
        c = R - below(2 * W) + below(4);  // near REJECT_AFTER_MESSAGES, some at or above it
      } else if (kind < 90) {
        c = ~uint64_t{0} - below(16);  // the very top of the counter space
      } else if (kind < 91 && below(20) == 0) {
        window.reset();
        model.reset();
        continue;
      } else {
        const uint64_t up = g + below(2 * W + 2);  // mixed: W+1 behind .. W+1 ahead
        c = up > W + 1 ? up - (W + 1) : 0;
      }
      CAPTURE(op);
      CAPTURE(c);
      CAPTURE(g);
      const bool expected = model.would_accept(c);
      REQUIRE(window.check(c) == expected);
      if (below(4) == 0) continue;  // check-only operation
      REQUIRE(window.update(c) == expected);
      REQUIRE(model.update(c) == expected);
      REQUIRE_FALSE(window.check(c));
      REQUIRE(window.greatest() == model.greatest());
      (expected ? accepted : rejected) += 1;
    }
    // The mix must exercise both outcomes substantially.
    CHECK(accepted > kOps / 10);
    CHECK(rejected > kOps / 10);
  }
}
