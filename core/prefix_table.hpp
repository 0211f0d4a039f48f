// core/prefix_table.hpp — the project's one longest-prefix-match table: IPv4/IPv6 prefixes to a
// value V (peers' AllowedIPs, the gateway's routes, ports' AllowedSource, Unreachable).
//
// Design (issue 13, chosen by measurement; figures in bench/RESULTS.md "a million prefixes"):
// one multibit trie per family, 6 bits per level, in the tree-bitmap layout (Eatherton et al.):
// a 32-byte node holds two 64-bit bitmaps — `ext`, which of its 64 chunks have a child, and
// `internal`, which of the 63 prefixes of 0..5 more bits end here — and the bases of its
// children and of its results, each a contiguous block addressed by popcount. A lookup reads one
// node per level, keeps the longest internal match, and touches one result at the end: about
// 5 cache lines for an IPv4 /24, against a node per bit of the binary radix trie this replaces
// (which stays in tests/core/binary_prefix_table.hpp as the reference). Unlike Poptrie or
// DIR-24-8 nothing is pushed down to leaves, so a prefix is stored once and an update touches
// one node: no rebuild of the subtree under a short prefix, and a few-entry table is a few nodes.
// Two refinements keep long, sparse prefixes (IPv6 /48, /64, /128) from costing a node per level:
// - path compression by whole levels: a node may skip up to 9 levels (54 bits it stores and a
//   lookup compares), so a chain without branches or prefixes is one node;
// - a virtual offset: the address is looked at as kOffset zero bits followed by its bits, which
//   moves level boundaries so that the most common lengths (IPv4 /24, IPv6 /48) end at the last
//   row of a node, beside their covering /19../23 (/43../47), instead of alone in a node of
//   their own.
// Above the trie, direct-pointing arrays replace its top levels (IPv4 13 then 19 bits; IPv6 13,
// and 12 more under crowded entries), and a leaf holding one prefix keeps its owner in the node,
// so that most hits at a million prefixes read no result slot (see Trie).
// Values are deduplicated: a result is a 32-bit index into the table of distinct values (a few
// peers or ports, so it stays in cache), and lookup returns a pointer into it. Each prefix also
// has an entry (its address, length and the links of its value's list in insertion order), so
// remove_value and for_each_of cost O(prefixes of that value).
// Not thread-safe: one owner mutates it; the data path only calls lookup().
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/endpoint.hpp"
#include "core/prefix.hpp"

namespace wg::core {

namespace prefix_trie {

inline constexpr unsigned kStride = 6;   // bits per level: 64 chunks, 63 internal prefixes
inline constexpr unsigned kMaxSkip = 9;  // levels a node may skip: 54 bits + a 4-bit count
inline constexpr uint32_t kNil = ~uint32_t{0};

// A family's width and virtual offset (see the header comment). Offsets other than the default
// are for lpm_scale_bench, which measures the alternatives.
// DirectBits: how many leading address bits the direct-pointing array of a large table resolves
// (see Trie; smaller tables get fewer). SecondBits: the bits of the second direct stage under
// crowded entries of the first (0: none).
template <unsigned Bytes, unsigned Offset, unsigned DirectBits = 13, unsigned SecondBits = 0>
struct Layout {
  static constexpr unsigned kBytes = Bytes;
  static constexpr unsigned kBits = 8 * Bytes;
  static constexpr unsigned kOffset = Offset;
  static constexpr unsigned kDirectBits = DirectBits;
  static constexpr unsigned kSecondBits = SecondBits;
  static_assert(Offset < kStride);
  static_assert(SecondBits == 0 || (SecondBits % kStride == 0 && Offset + DirectBits + SecondBits <= 64 &&
                                    (Offset + DirectBits) % kStride == 0));
  static_assert(DirectBits >= 8 && DirectBits <= 24 && DirectBits < kBits);
  // Enough 64-bit words for kOffset + kBits bits plus a zero word, so a window never reads
  // past the end.
  static constexpr unsigned kWords = (Offset + kBits + 63) / 64 + 1;
  static constexpr unsigned kLevels = (Offset + kBits) / kStride + 1;  // a /kBits is in the last
};
// /24 ends level 4, with /19../23; 13 and 19 direct bits end levels 2 and 3.
using Layout4 = Layout<4, 5, 19>;
// /48 ends level 8, with /43../47. The top bits of IPv6 routes are few (a handful of RIR
// blocks), so more than 13 direct bits did not pay (bench/RESULTS.md); what does is a second
// stage of 12 bits (levels 3 and 4) under the few crowded 13-bit entries.
using Layout6 = Layout<16, 5, 13, 12>;

// An address as a bit string with kOffset leading zero bits, in 64-bit words, most significant
// bit first.
template <class L>
struct VirtualKey {
  std::array<uint64_t, L::kWords> w{};

  static VirtualKey load(const uint8_t* addr) {
    std::array<uint64_t, L::kWords> raw{};
    for (unsigned i = 0; i < L::kBytes; i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, addr + i, std::min(8u, L::kBytes - i));
      // Big-endian bits; bytes missing on the right (IPv4) stay zero.
      raw[i / 8] = std::endian::native == std::endian::little ? __builtin_bswap64(word) : word;
    }
    VirtualKey k;
    if constexpr (L::kOffset == 0) {
      k.w = raw;
    } else {
      k.w[0] = raw[0] >> L::kOffset;
      for (unsigned i = 1; i < L::kWords; ++i) k.w[i] = raw[i] >> L::kOffset | raw[i - 1] << (64 - L::kOffset);
    }
    return k;
  }
  // 64 bits starting at bit pos (pos < 64 * (kWords - 1)).
  uint64_t window(unsigned pos) const {
    const unsigned i = pos / 64, r = pos % 64;
    return w[i] << r | (w[i + 1] >> 1) >> (63 - r);
  }
  unsigned chunk(unsigned level) const { return static_cast<unsigned>(window(kStride * level) >> 58); }
};

// Internal bitmap position of the prefix of l more bits whose bits are the top l of chunk c.
constexpr unsigned internal_pos(unsigned l, unsigned c) { return (1u << l) - 1 + (c >> (kStride - l)); }

// For chunk c, the positions of the 6 internal prefixes (0..5 more bits) that contain it.
inline constexpr auto kCovering = [] {
  std::array<uint64_t, 64> t{};
  for (unsigned c = 0; c < 64; ++c)
    for (unsigned l = 0; l < kStride; ++l) t[c] |= uint64_t{1} << internal_pos(l, c);
  return t;
}();

// The first chunk each internal position covers.
inline constexpr auto kStart = [] {
  std::array<uint8_t, 64> t{};
  for (unsigned l = 0; l < kStride; ++l)
    for (unsigned v = 0; v < (1u << l); ++v) t[(1u << l) - 1 + v] = static_cast<uint8_t>(v << (kStride - l));
  return t;
}();

// The top 6k bits: k skipped chunks.
inline constexpr auto kSkipMask = [] {
  std::array<uint64_t, kMaxSkip + 1> t{};
  for (unsigned k = 1; k <= kMaxSkip; ++k) t[k] = ~uint64_t{0} << (64 - kStride * k);
  return t;
}();

// Without -mpopcnt (the default x86-64 target) std::popcount is a call into libgcc; this
// inline bit-slicing count avoids the call (measured in bench/RESULTS.md), and the compiler's own
// instruction when the target has one.
inline unsigned popcount(uint64_t x) {
#if defined(__POPCNT__) || !defined(__x86_64__)
  return static_cast<unsigned>(std::popcount(x));
#else
  x -= (x >> 1) & 0x5555555555555555ULL;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<unsigned>((x * 0x0101010101010101ULL) >> 56);
#endif
}

// The batched lookup is built twice, once inside a function compiled for the popcnt instruction
// (chosen at run time when the CPU has it: x86-64-v2 and later, but not the Debian baseline)
// and once with the count above; Hw picks the count, inlined into either build.
#if defined(__x86_64__) && !defined(__POPCNT__) && (defined(__GNUC__) || defined(__clang__))
#define WG_PREFIX_TRIE_POPCNT_DISPATCH 1
inline const bool kHasPopcnt = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("popcnt") != 0;
}();
#endif

template <bool Hw>
[[gnu::always_inline]] inline unsigned count_bits(uint64_t x) {
  if constexpr (Hw)
    return static_cast<unsigned>(__builtin_popcountll(x));
  else
    return popcount(x);
}

inline uint64_t below(unsigned bit) { return (uint64_t{1} << bit) - 1; }  // bit < 64

// Grows a vector by an eighth rather than doubling, so spare capacity stays under 12.5 %.
template <class T>
void reserve_for(std::vector<T>& v, size_t n) {
  if (n > v.capacity()) v.reserve(std::max(n, v.capacity() + v.capacity() / 8 + 2));
}

// Blocks of 1..64 consecutive elements carved from one vector, with a free list per exact
// size: a node's children and its results each live in one block, resized by moving. A request
// with no free block of its size splits the smallest larger one; what still piles up (the blocks
// a 64-child node left behind while it grew) is bounded by Trie::compact.
template <class T>
class BlockPool {
 public:
  bool empty() const { return items_.empty(); }
  T& operator[](uint32_t i) { return items_[i]; }
  const T& operator[](uint32_t i) const { return items_[i]; }
  const T* data() const { return items_.data(); }

  uint32_t alloc(unsigned n) {
    for (unsigned m = n; m < free_.size(); ++m) {
      auto& list = free_[m];
      if (list.empty()) continue;
      const uint32_t at = list.back();
      list.pop_back();
      free_elements_ -= m;
      release(at + n, m - n);
      return at;
    }
    const auto at = static_cast<uint32_t>(items_.size());
    reserve_for(items_, items_.size() + n);
    items_.resize(items_.size() + n);
    return at;
  }
  void release(uint32_t at, unsigned n) {
    if (n == 0) return;
    reserve_for(free_[n], free_[n].size() + 1);
    free_[n].push_back(at);
    free_elements_ += n;
  }
  void reserve(size_t n) { items_.reserve(n); }
  // Copies block [from, from+n) into a new block of n+1 with a default element at index i.
  uint32_t grow(uint32_t from, unsigned n, unsigned i) {
    const uint32_t to = alloc(n + 1);
    for (unsigned j = 0; j < i; ++j) items_[to + j] = items_[from + j];
    items_[to + i] = T{};
    for (unsigned j = i; j < n; ++j) items_[to + j + 1] = items_[from + j];
    release(from, n);
    return to;
  }
  // Copies block [from, from+n) without its element i into a new block of n-1.
  uint32_t shrink(uint32_t from, unsigned n, unsigned i) {
    uint32_t to = 0;
    if (n > 1) {
      to = alloc(n - 1);
      for (unsigned j = 0; j < i; ++j) items_[to + j] = items_[from + j];
      for (unsigned j = i + 1; j < n; ++j) items_[to + j - 1] = items_[from + j];
    }
    release(from, n);
    return to;
  }
  size_t free_elements() const { return free_elements_; }
  size_t size() const { return items_.size(); }
  size_t memory_bytes() const {
    size_t bytes = items_.capacity() * sizeof(T);
    for (const auto& list : free_) bytes += list.capacity() * sizeof(uint32_t);
    return bytes;
  }

 private:
  std::vector<T> items_;
  std::array<std::vector<uint32_t>, 66> free_;
  size_t free_elements_ = 0;
};

// One family's trie.
template <class L, class V, class Hash>
class Trie {
 public:
  using Key = VirtualKey<L>;

  size_t size() const { return size_; }

  void clear() {  // releases the memory too
    const size_t direct_min = direct_min_;
    *this = Trie{};
    direct_min_ = direct_min;
  }

  // The table size from which the smallest direct-pointing array is kept; each larger one (6 more
  // bits) needs 64 times that, and each goes again below a quarter of its size. The default
  // makes an array cost 16 bytes per prefix when it is built; tests lower it to cross the
  // thresholds both ways with few prefixes.
  void set_direct_threshold(size_t prefixes) {
    direct_min_ = std::max<size_t>(prefixes, 1);
    const unsigned bits = direct_bits_;
    update_direct(Key{}, 0, 0, 0);
    if (bits == direct_bits_ && bits != 0) rebuild_direct();  // the second stage's threshold moved
  }
  // Blocks of the second direct stage (tests).
  size_t second_blocks() const { return (second_.size() >> kSecondBits) - free_seconds_.size(); }
  unsigned direct_bits() const { return direct_bits_; }  // 0: no array

  // Everything the table holds on to, spare capacity and free blocks included.
  size_t memory_bytes() const {
    // An unordered_map node holds the pair, a next pointer and the cached hash.
    constexpr size_t kIndexNode = sizeof(std::pair<const V, uint32_t>) + 2 * sizeof(void*);
    return nodes_.memory_bytes() + results_.memory_bytes() + entries_.capacity() * sizeof(Entry) +
           free_entries_.capacity() * sizeof(uint32_t) + owners_.capacity() * sizeof(Owner) +
           free_owners_.capacity() * sizeof(uint32_t) + owner_index_.bucket_count() * sizeof(void*) +
           owner_index_.size() * kIndexNode + direct_.capacity() * sizeof(Direct) +
           second_.capacity() * sizeof(Direct) + free_seconds_.capacity() * sizeof(uint32_t) +
           below_.capacity() * sizeof(uint32_t);
  }

  // addr must already be masked to len.
  std::optional<V> insert(const uint8_t* addr, unsigned len, const V& v) {
    unsigned touched = L::kLevels;
    const size_t before = size_;
    std::optional<V> previous = insert_at(addr, len, v, touched);
    update_direct(Key::load(addr), touched, len, static_cast<int>(size_ - before));
    return previous;
  }

  bool remove(const uint8_t* addr, unsigned len) {
    Found f = find(Key::load(addr), len);
    if (f.node == kNil) return false;
    erase(f, Key::load(addr), len);
    return true;
  }

  bool remove_if(const uint8_t* addr, unsigned len, const V& v) {
    Found f = find(Key::load(addr), len);
    if (f.node == kNil || !(owners_[results_[f.result].value].value == v)) return false;
    erase(f, Key::load(addr), len);
    return true;
  }

  size_t remove_value(const V& v) {
    auto it = owner_index_.find(v);
    if (it == owner_index_.end()) return 0;
    size_t removed = 0;
    // Each removal frees only its own entry, so the saved next stays valid; the owner slot goes
    // with the last one.
    for (uint32_t e = owners_[it->second].head; e != kNil;) {
      const uint32_t next = entries_[e].next;
      const Entry entry = entries_[e];
      const bool ok = remove(entry.addr.data(), entry.len);
      removed += ok;
      e = next;
    }
    return removed;
  }

  // The data path: no allocation, at most kLevels nodes (fewer below the direct-pointing array).
  // Inlined into the caller as it was before the array: out of line it cost small tables 8-20 %
  // (lpm_scale_bench, 1 k prefixes).
  [[gnu::always_inline]] const V* lookup(const uint8_t* addr) const {
    if (nodes_.empty()) return nullptr;
    const Key key = Key::load(addr);
    const Node* nodes = nodes_.data();
    uint32_t n = 0, best = kNil;
    unsigned pos = 0;
    if (!direct_.empty()) {
      Direct d = direct_[direct_index(key)];
      if constexpr (kSecondBits != 0)
        if (is_second(d.node)) d = second_[second_slot(d.node, key)];
      best = d.best;
      if (d.node == kNil) return value_at(best);
      n = d.node & kDirectNodeMask;
      pos = kStride * (d.node >> kDirectNodeBits);
    }
    while (step<false>(nodes[n], key, n, pos, best)) {
    }
    return value_at(best);
  }

  // out[i] = lookup(addrs[i]), G lookups in flight (see PrefixTable::lookup_batch). Popcnt:
  // false keeps to the inline count even where the CPU has the instruction (lpm_scale_bench).
  template <unsigned G, bool Popcnt = true>
  void lookup_batch(std::span<const uint8_t* const> addrs, std::span<const V*> out) const {
#ifdef WG_PREFIX_TRIE_POPCNT_DISPATCH
    if (Popcnt && kHasPopcnt) return lookup_batch_popcnt<G>(addrs, out);
#endif
    lookup_batch_walk<G, false>(addrs, out);
  }

  // By address, then by length. f(const uint8_t* addr, unsigned len, const V&).
  template <class F>
  void for_each(F&& f) const {
    if (!nodes_.empty()) visit(0, f);
  }

  // The prefixes of one value, in the order they were (last) inserted. f(addr, unsigned len).
  template <class F>
  void for_each_of(const V& v, F&& f) const {
    auto it = owner_index_.find(v);
    if (it == owner_index_.end()) return;
    for (uint32_t e = owners_[it->second].head; e != kNil; e = entries_[e].next)
      f(entries_[e].addr.data(), unsigned{entries_[e].len});
  }

  // Checks every structural invariant; for tests. Returns false on the first violation.
  bool check() const {
    if (nodes_.empty()) return size_ == 0 && owner_index_.empty() && direct_.empty();
    // The direct-pointing array: there exactly when the thresholds say, each entry as computed
    // afresh from the trie.
    if (direct_bits_ < direct_bits_floor() || direct_stale_) return false;
    if (direct_bits_ != 0 && size_ < direct_threshold(direct_bits_) / 4) return false;
    if (direct_.empty() != (direct_bits_ == 0)) return false;
    if (!direct_.empty()) {
      if (direct_.size() != size_t{1} << direct_bits_) return false;
      for (uint32_t x = 0; x < direct_.size(); ++x)
        if (!(direct_[x] == direct_entry(x, block_of(x)))) return false;
      if (!check_second()) return false;
    } else if (!second_.empty() || !below_.empty()) {
      return false;
    }
    Census census;
    if (!check_node(0, 0, true, census)) return false;
    if (census.nodes + nodes_.free_elements() != nodes_.size()) return false;
    if (census.results + results_.free_elements() != results_.size()) return false;
    if (census.results != size_ || entries_.size() - free_entries_.size() != size_) return false;
    // Every owner's list: linked both ways, each entry found in the trie with that owner.
    size_t listed = 0, live_owners = 0;
    for (uint32_t o = 0; o < owners_.size(); ++o) {
      const Owner& owner = owners_[o];
      if (owner.head == kNil) continue;
      ++live_owners;
      auto it = owner_index_.find(owner.value);
      if (it == owner_index_.end() || it->second != o) return false;
      uint32_t prev = kNil;
      for (uint32_t e = owner.head; e != kNil; e = entries_[e].next) {
        const Entry& entry = entries_[e];
        if (entry.prev != prev || ++listed > size_) return false;
        const Found f = find(Key::load(entry.addr.data()), entry.len);
        if (f.node == kNil || results_[f.result].entry != e || results_[f.result].value != o) return false;
        prev = e;
      }
      if (owner.tail != prev) return false;
    }
    return listed == size_ && live_owners == owner_index_.size() &&
           owners_.size() - free_owners_.size() == live_owners;
  }

 private:
  struct alignas(32) Node {  // two to a cache line, never across one
    uint64_t ext = 0;        // bit c: a child for chunk c
    uint64_t internal = 0;   // bit internal_pos(l, c): a prefix of l more bits ends here
    // A leaf (no children) holding exactly one prefix keeps kOwned | its owner here instead, so
    // a walk that ends there (most hits: a /24, /48 or /128 alone in its node) has its answer
    // without reading results_, one cache miss less at scale. Other leaves: 0.
    uint32_t child_base = 0;
    uint32_t result_base = 0;
    uint64_t skip = 0;       // top 6k bits: the k skipped chunks; low 4 bits: k
  };
  struct Result {
    uint32_t value = 0;  // owners_ slot: what lookup returns
    uint32_t entry = 0;  // entries_ slot: what the control plane needs
  };
  struct Entry {
    std::array<uint8_t, L::kBytes> addr{};
    uint32_t prev = kNil;  // neighbours in this value's list
    uint32_t next = kNil;
    uint8_t len = 0;
  };
  struct Owner {
    V value{};
    uint32_t head = kNil;  // kNil: a free slot
    uint32_t tail = kNil;
  };
  // Where an exact prefix is: the node, its internal position and result slot, and the path
  // from the root (the nodes above it, for the clean-up after a removal).
  struct Found {
    uint32_t node = kNil;
    unsigned pos = 0;
    uint32_t result = 0;
    std::array<uint32_t, L::kLevels> path{};  // path[0] = the root, path[depth] = node
    std::array<uint8_t, L::kLevels> own{};    // each path node's own level
    std::array<uint8_t, L::kLevels> start{};  // and its first (skipped) level
    unsigned depth = 0;
  };
  struct Census {
    size_t nodes = 1;  // the root
    size_t results = 0;
  };

  static unsigned skip_count(uint64_t skip) { return static_cast<unsigned>(skip & 15); }

  static constexpr uint32_t kOwned = uint32_t{1} << 31;  // see Node::child_base

  // Node n's child_base after a change to its prefixes or children, when it is a leaf.
  void refresh_owned(uint32_t n) {
    Node& node = nodes_[n];
    if (node.ext != 0) return;
    node.child_base = popcount(node.internal) == 1 ? kOwned | results_[node.result_base].value : 0;
  }

  // A walk's best match: kNil (none), a results_ slot, or kOwned | the owner of a leaf's one
  // prefix (see Node::child_base).
  const V* value_at(uint32_t best) const {
    if (best == kNil) return nullptr;
    return &owners_[best & kOwned ? best & ~kOwned : results_[best].value].value;
  }

  // One node of a lookup's walk: the longest prefix it holds for the key into best, then on to
  // its child (n, and pos = the child's first bit); false when the walk ends here.
  template <bool Hw>
  [[gnu::always_inline]] static bool step(const Node& node, const Key& key, uint32_t& n, unsigned& pos,
                                          uint32_t& best) {
    const unsigned skip = skip_count(node.skip);
    uint64_t w = key.window(pos);
    if ((w ^ node.skip) & kSkipMask[skip]) return false;
    w <<= kStride * skip;
    const auto c = static_cast<unsigned>(w >> 58);
    const uint64_t match = node.internal & kCovering[c];
    if (match) {
      const auto at = static_cast<unsigned>(63 - std::countl_zero(match));  // the longest
      const uint32_t slot = node.result_base + count_bits<Hw>(node.internal & below(at));
      best = node.child_base & kOwned ? node.child_base : slot;
    }
    if (!(node.ext >> c & 1)) return false;
    n = node.child_base + count_bits<Hw>(node.ext & below(c));
    pos += kStride * (skip + 1);
    return true;
  }

#ifdef WG_PREFIX_TRIE_POPCNT_DISPATCH
  template <unsigned G>
  [[gnu::target("popcnt")]] void lookup_batch_popcnt(std::span<const uint8_t* const> addrs,
                                                     std::span<const V*> out) const {
    lookup_batch_walk<G, true>(addrs, out);
  }
#endif

  // The batched walk: G lanes, each one lookup at a time, visited round robin; a lane does one
  // step (the direct entry, a node, or the result) and prefetches what its next step reads, so
  // by the time the round comes back to it the line is (more likely) there, and the misses of the
  // G lookups overlap instead of following each other. A lane that finishes takes the next
  // address, so short walks do not wait for long ones.
  template <unsigned G, bool Hw>
  [[gnu::always_inline]] void lookup_batch_walk(std::span<const uint8_t* const> addrs, std::span<const V*> out) const {
    const size_t total = addrs.size();
    if (nodes_.empty()) {
      for (size_t i = 0; i < total; ++i) out[i] = nullptr;
      return;
    }
    enum class State : uint8_t { Idle, Direct, Second, Walk, Result };
    // Left uninitialized: start() sets every field a lane reads. Zeroing 64 lanes' keys cost
    // the random rows (one step a lookup) 10 % of a call.
    struct Lane {
      Lane() {}
      union {
        Key key;
      };
      uint32_t n;
      uint32_t best;
      uint32_t slot;
      unsigned pos;
      State state;
    };
    const Node* nodes = nodes_.data();
    const Result* results = results_.data();
    const Direct* direct = direct_.empty() ? nullptr : direct_.data();
    const Direct* second = second_.data();
    std::array<Lane, G> lanes;
    size_t next = 0;
    unsigned live = 0;
    // The lane takes the next address, or goes idle.
    const auto start = [&](Lane& l) {
      if (next == total) {
        l.state = State::Idle;
        --live;
        return;
      }
      l.slot = static_cast<uint32_t>(next++);
      l.key = Key::load(addrs[l.slot]);
      l.best = kNil;
      if (direct) {
        __builtin_prefetch(direct + direct_index(l.key));
        l.state = State::Direct;
      } else {
        l.n = 0;
        l.pos = 0;
        l.state = State::Walk;
      }
    };
    const auto finish = [&](Lane& l) {
      if (l.best == kNil || l.best & kOwned) {
        out[l.slot] = l.best == kNil ? nullptr : &owners_[l.best & ~kOwned].value;
        start(l);
      } else {
        __builtin_prefetch(results + l.best);
        l.state = State::Result;
      }
    };
    for (Lane& l : lanes) {
      ++live;
      start(l);
    }
    while (live) {
      for (Lane& l : lanes) {
        switch (l.state) {
          case State::Idle:
            break;
          case State::Direct:
          case State::Second: {
            const Direct d = l.state == State::Direct ? direct[direct_index(l.key)] : second[l.n];
            if constexpr (kSecondBits != 0) {
              if (is_second(d.node)) {  // one more entry to read, in the block
                l.n = second_slot(d.node, l.key);
                __builtin_prefetch(second + l.n);
                l.state = State::Second;
                break;
              }
            }
            l.best = d.best;
            if (d.node == kNil) {
              finish(l);
              break;
            }
            l.n = d.node & kDirectNodeMask;
            l.pos = kStride * (d.node >> kDirectNodeBits);
            __builtin_prefetch(nodes + l.n);
            l.state = State::Walk;
            break;
          }
          case State::Walk:
            if (step<Hw>(nodes[l.n], l.key, l.n, l.pos, l.best))
              __builtin_prefetch(nodes + l.n);
            else
              finish(l);
            break;
          case State::Result:
            out[l.slot] = &owners_[results[l.best].value].value;
            start(l);
            break;
        }
      }
    }
  }

  // Direct pointing (Poptrie, DIR-24-8): once the family holds direct_min_ prefixes, an array
  // indexed by the first direct_bits_ address bits says, for each value of them, the longest
  // prefix found above where the walk would need more bits, and the node where it resumes. The
  // top levels, read by every lookup, become one read of an entry. The sizes: L::kDirectBits,
  // and 6, 12.. bits less (one level less each, down to kDirectLeast), the largest the table's
  // size pays for.
  struct Direct {
    uint32_t node = kNil;  // the node's index | its first level << kDirectNodeBits; kNil: the walk ends above
    uint32_t best = kNil;  // as a walk's best: a results_ slot or kOwned | owner (see value_at)
    bool operator==(const Direct&) const = default;
  };
  static constexpr unsigned kDirectNodeBits = 27;  // level < 32 above, index below
  static constexpr uint32_t kDirectNodeMask = (uint32_t{1} << kDirectNodeBits) - 1;
  static constexpr unsigned kDirectLeast = 8;
  static constexpr unsigned kDirectSmallest = (L::kDirectBits - kDirectLeast) % kStride + kDirectLeast;

  // The table size an array of `bits` needs.
  size_t direct_threshold(unsigned bits) const {
    const unsigned shift = bits - kDirectSmallest;
    return direct_min_ > (~size_t{0} >> shift) ? ~size_t{0} : direct_min_ << shift;
  }
  // The largest array the size asks for (0: none).
  unsigned direct_bits_floor() const {
    unsigned bits = 0;
    for (unsigned b = kDirectSmallest; b <= L::kDirectBits; b += kStride)
      if (size_ >= direct_threshold(b)) bits = b;
    return bits;
  }
  // The virtual bits the array resolves.
  unsigned direct_end() const { return L::kOffset + direct_bits_; }

  uint32_t direct_index(const Key& key) const {
    return static_cast<uint32_t>((key.w[0] << L::kOffset) >> (64 - direct_bits_));
  }

  // The walk of key up to the first node that needs bits past virtual bit `end` (its skip or
  // its own chunk): that node and the longest match above it.
  Direct walk_until(const Key& key, unsigned end) const {
    Direct d;
    uint32_t n = 0;
    unsigned level = 0;
    for (;;) {
      const Node& node = nodes_[n];
      const unsigned own = level + skip_count(node.skip);
      if (kStride * (own + 1) > end) {
        d.node = n | level << kDirectNodeBits;
        return d;
      }
      unsigned pos = kStride * level;
      if (!step<false>(node, key, n, pos, d.best)) return d;
      level = own + 1;
    }
  }

  // The entry for top bits x: the walk of x followed by zeros; with a second-stage block, the
  // block instead of the node (the best match above it stays, for check()).
  Direct direct_entry(uint32_t x, uint32_t block) const {
    Key key;
    key.w[0] = (uint64_t{x} << (64 - direct_bits_)) >> L::kOffset;
    Direct d = walk_until(key, direct_end());
    if (block != kNil) d.node = kSecondTag | block;
    return d;
  }

  // Second stage (Layout6): the 13-bit array leaves ~6 nodes to walk below a crowded entry (an
  // RIR block holding a hundred thousand routes), the first two of which every lookup under it
  // reads. Such an entry (below_ >= second_min()) points instead to a block of 2^kSecondBits
  // entries indexed by the next address bits, each the same as a first-stage entry: the longest
  // match above and the node where the walk resumes, two levels further down. 32 KB a block, so
  // the threshold keeps it under 16 bytes per prefix below; it goes again under a quarter of
  // that. Kept exact on updates as the first stage is, and rebuilt with it.
  static constexpr unsigned kSecondBits = L::kSecondBits;
  static constexpr uint32_t kSecondTag = uint32_t{31} << kDirectNodeBits;  // Direct::node: a block
  static_assert(L::kLevels < 31);
  static bool is_second(uint32_t node) { return node != kNil && node >= kSecondTag; }
  size_t second_min() const { return std::max<size_t>(direct_min_ / 2, 1); }
  uint32_t block_of(uint32_t x) const { return is_second(direct_[x].node) ? direct_[x].node & kDirectNodeMask : kNil; }
  uint32_t second_index(const Key& key) const {
    if constexpr (kSecondBits == 0)
      return 0;
    else
      return static_cast<uint32_t>((key.w[0] << direct_end()) >> (64 - kSecondBits));
  }
  uint32_t second_slot(uint32_t node, const Key& key) const {
    return (node & kDirectNodeMask) << kSecondBits | second_index(key);
  }
  Direct second_entry(uint32_t x, uint32_t y) const {
    Key key;
    key.w[0] = ((uint64_t{x} << kSecondBits | y) << (64 - direct_bits_ - kSecondBits)) >> L::kOffset;
    return walk_until(key, direct_end() + kSecondBits);
  }
  void fill_block(uint32_t x) {
    const uint32_t base = block_of(x) << kSecondBits;
    for (uint32_t y = 0; y < (uint32_t{1} << kSecondBits); ++y) second_[base + y] = second_entry(x, y);
  }
  void add_block(uint32_t x) {
    uint32_t b;
    if (!free_seconds_.empty()) {
      b = free_seconds_.back();
      free_seconds_.pop_back();
    } else {
      b = static_cast<uint32_t>(second_.size() >> kSecondBits);
      reserve_for(second_, second_.size() + (size_t{1} << kSecondBits));
      second_.resize(second_.size() + (size_t{1} << kSecondBits));
    }
    direct_[x].node = kSecondTag | b;
    fill_block(x);
  }
  void drop_block(uint32_t x) {
    reserve_for(free_seconds_, free_seconds_.size() + 1);
    free_seconds_.push_back(block_of(x));
    direct_[x] = direct_entry(x, kNil);
  }
  bool wants_block(uint32_t x) const { return kSecondBits != 0 && below_[x] >= second_min(); }
  bool keeps_block(uint32_t x) const { return below_[x] >= second_min() / 4; }

  // The second stage against a recomputation: the counts, which entries have a block, every
  // block entry, and the free blocks.
  bool check_second() const {
    if constexpr (kSecondBits == 0) return second_.empty() && below_.empty();
    std::vector<uint32_t> below(direct_.size());
    for_each([&](const uint8_t* a, unsigned len, const V&) {
      if (len > direct_bits_) ++below[direct_index(Key::load(a))];
    });
    if (below != below_) return false;
    std::vector<bool> used(second_.size() >> kSecondBits);
    for (uint32_t x = 0; x < direct_.size(); ++x) {
      const uint32_t b = block_of(x);
      if (b == kNil) {
        if (wants_block(x)) return false;
        continue;
      }
      if (!keeps_block(x) || b >= used.size() || used[b]) return false;
      used[b] = true;
      for (uint32_t y = 0; y < (uint32_t{1} << kSecondBits); ++y)
        if (!(second_[(b << kSecondBits) + y] == second_entry(x, y))) return false;
    }
    for (const uint32_t b : free_seconds_) {
      if (b >= used.size() || used[b]) return false;
      used[b] = true;
    }
    return std::find(used.begin(), used.end(), false) == used.end();
  }

  void rebuild_direct() {
    direct_.assign(size_t{1} << direct_bits_, Direct{});
    direct_.shrink_to_fit();
    for (uint32_t x = 0; x < direct_.size(); ++x) direct_[x] = direct_entry(x, kNil);
    if constexpr (kSecondBits != 0) {
      second_.clear();
      free_seconds_.clear();
      below_.assign(direct_.size(), 0);
      below_.shrink_to_fit();
      for_each([&](const uint8_t* a, unsigned len, const V&) {
        if (len > direct_bits_) ++below_[direct_index(Key::load(a))];
      });
      for (uint32_t x = 0; x < direct_.size(); ++x)
        if (wants_block(x)) add_block(x);
    }
  }

  // After an update of the prefix key/len (grown: +1 added, -1 removed, 0 changed hands) whose
  // shallowest changed node starts at level `touched` on key's path: builds, resizes or drops the
  // array when the size crossed a threshold, else recomputes the entries whose walks pass
  // through that node, which are those sharing its first 6 x touched virtual bits with the key
  // (and the whole blocks under them), then adds or drops the key's block as its count says. A
  // node starting at or below where the stages end is never above a resume node, and a change
  // inside a resume node leaves its index in place: nothing to do (most updates).
  void update_direct(const Key& key, unsigned touched, unsigned len, int grown) {
    unsigned bits = direct_bits_floor();
    if (direct_bits_ > bits && size_ >= direct_threshold(direct_bits_) / 4) bits = direct_bits_;
    if (nodes_.size() > kDirectNodeMask || nodes_.empty()) bits = 0;  // entries could not say the node
    if (bits != direct_bits_ || direct_stale_) {
      direct_bits_ = bits;
      direct_stale_ = false;
      if (bits == 0) {  // and the memory
        direct_ = {};
        second_ = {};
        free_seconds_ = {};
        below_ = {};
      } else {
        rebuild_direct();
      }
      return;
    }
    if (direct_bits_ == 0) return;
    const uint32_t x = direct_index(key);
    if (kStride * touched < direct_end()) {
      const unsigned fixed = kStride * touched > L::kOffset ? kStride * touched - L::kOffset : 0;
      const uint32_t count = uint32_t{1} << (direct_bits_ - fixed);
      const uint32_t first = x & ~(count - 1);
      for (uint32_t z = first; z < first + count; ++z) {
        direct_[z] = direct_entry(z, block_of(z));
        if (block_of(z) != kNil) fill_block(z);
      }
    } else if (kStride * touched < direct_end() + kSecondBits && block_of(x) != kNil) {
      const unsigned fixed = kStride * touched - direct_end();
      const uint32_t count = uint32_t{1} << (kSecondBits - fixed);
      const uint32_t first = second_index(key) & ~(count - 1);
      const uint32_t base = block_of(x) << kSecondBits;
      for (uint32_t y = first; y < first + count; ++y) second_[base + y] = second_entry(x, y);
    }
    if constexpr (kSecondBits != 0) {
      if (grown == 0 || len <= direct_bits_) return;
      below_[x] = static_cast<uint32_t>(static_cast<int>(below_[x]) + grown);
      if (block_of(x) == kNil && wants_block(x)) add_block(x);
      if (block_of(x) != kNil && !keeps_block(x)) drop_block(x);
    }
  }

  Found find(const Key& key, unsigned len) const {
    Found f;
    if (nodes_.empty()) return f;
    const unsigned vlen = len + L::kOffset;
    const unsigned target = vlen / kStride, rel = vlen % kStride;
    uint32_t n = 0;
    unsigned level = 0;
    for (unsigned depth = 0;; ++depth) {
      const Node& node = nodes_[n];
      const unsigned skip = skip_count(node.skip);
      const unsigned own = level + skip;
      if (target < own || ((key.window(kStride * level) ^ node.skip) & kSkipMask[skip])) return f;
      f.path[depth] = n;
      f.own[depth] = static_cast<uint8_t>(own);
      f.start[depth] = static_cast<uint8_t>(level);
      const unsigned c = key.chunk(own);
      if (target == own) {
        const unsigned pos = internal_pos(rel, c);
        if (!(node.internal >> pos & 1)) return f;
        f.node = n;
        f.pos = pos;
        f.result = node.result_base + static_cast<uint32_t>(popcount(node.internal & below(pos)));
        f.depth = depth;
        return f;
      }
      if (!(node.ext >> c & 1)) return f;
      n = node.child_base + static_cast<uint32_t>(popcount(node.ext & below(c)));
      level = own + 1;
    }
  }

  // The insertion proper; touched: the first level of the shallowest node it changed.
  std::optional<V> insert_at(const uint8_t* addr, unsigned len, const V& v, unsigned& touched) {
    if (nodes_.empty()) nodes_[nodes_.alloc(1)] = Node{};  // the root, index 0
    const Key key = Key::load(addr);
    const unsigned vlen = len + L::kOffset;
    const unsigned target = vlen / kStride, rel = vlen % kStride;
    uint32_t n = 0, parent = kNil;
    unsigned level = 0, parent_level = 0;  // the first level a node covers: skipped, then its own
    for (;;) {
      const Node node = nodes_[n];
      const unsigned skip = skip_count(node.skip);
      const unsigned own = level + skip;
      if (skip) {
        // The prefix leaves this node's path where a skipped chunk differs or where it ends.
        const uint64_t diff = (key.window(kStride * level) ^ node.skip) & kSkipMask[skip];
        unsigned split = diff ? static_cast<unsigned>(std::countl_zero(diff)) / kStride : skip;
        if (target < own) split = std::min(split, target - level);
        if (split < skip) {
          split_node(n, split);
          touched = std::min(touched, level);
          // With a shorter skip, n may now fit into a parent that holds nothing but it.
          if (parent != kNil && merge_down(parent)) {
            touched = std::min(touched, parent_level);
            n = parent;
            level = parent_level;
            parent = kNil;  // its skip all matches the key: it will not split again
          }
          continue;
        }
      }
      const unsigned c = key.chunk(own);
      if (target == own) {
        touched = std::min(touched, level);
        return place(n, internal_pos(rel, c), addr, len, v);
      }
      parent = n;
      parent_level = level;
      if (node.ext >> c & 1) {
        n = node.child_base + static_cast<uint32_t>(popcount(node.ext & below(c)));
        level = own + 1;
        continue;
      }
      // A new branch: one node at the target level, or as deep as a node can skip.
      const unsigned depth = std::min(target, own + 1 + kMaxSkip);
      const unsigned skipped = depth - own - 1;
      Node fresh;
      fresh.skip = (key.window(kStride * (own + 1)) & kSkipMask[skipped]) | skipped;
      touched = std::min(touched, level);
      n = add_child(n, c, fresh);
      level = own + 1;
    }
  }

  // Node n keeps its first `split` skipped chunks and becomes a node of its own at the next
  // level, with n's old contents as its one child, behind the remaining skipped chunks.
  void split_node(uint32_t n, unsigned split) {
    Node lower = nodes_[n];
    const unsigned skip = skip_count(lower.skip);
    const auto c = static_cast<unsigned>(lower.skip >> (58 - kStride * split) & 63);
    Node upper;
    upper.skip = (lower.skip & kSkipMask[split]) | split;
    const unsigned rest = skip - split - 1;
    lower.skip = ((lower.skip << (kStride * (split + 1))) & kSkipMask[rest]) | rest;
    upper.ext = uint64_t{1} << c;
    upper.child_base = nodes_.alloc(1);
    nodes_[upper.child_base] = lower;
    nodes_[n] = upper;
    merge_down(upper.child_base);  // lower had nothing of its own but a child: may fit in one
  }

  // A node with no prefix and one child, whose skip and its child's fit in one, becomes its
  // child (path compression after a split or a removal). Not for the root, whose place in the
  // pool is fixed.
  bool merge_down(uint32_t n) {
    const Node node = nodes_[n];
    if (n == 0 || node.internal != 0 || popcount(node.ext) != 1) return false;
    Node child = nodes_[node.child_base];
    const unsigned skip = skip_count(node.skip), child_skip = skip_count(child.skip);
    if (skip + 1 + child_skip > kMaxSkip) return false;
    const auto c = static_cast<uint64_t>(std::countr_zero(node.ext));
    child.skip = (node.skip & ~uint64_t{15}) | c << (58 - kStride * skip) |
                 (child.skip & ~uint64_t{15}) >> (kStride * (skip + 1)) | (skip + 1 + child_skip);
    nodes_.release(node.child_base, 1);
    nodes_[n] = child;
    return true;
  }

  // Inserts child for chunk c into n's children; returns the child's index.
  uint32_t add_child(uint32_t n, unsigned c, const Node& child) {
    const Node node = nodes_[n];
    const auto count = static_cast<unsigned>(popcount(node.ext));
    const auto i = static_cast<unsigned>(popcount(node.ext & below(c)));
    const uint32_t base = count ? nodes_.grow(node.child_base, count, i) : nodes_.alloc(1);
    nodes_[base + i] = child;
    nodes_[n].child_base = base;
    nodes_[n].ext |= uint64_t{1} << c;
    return base + i;
  }

  std::optional<V> place(uint32_t n, unsigned pos, const uint8_t* addr, unsigned len, const V& v) {
    const Node node = nodes_[n];
    const auto i = static_cast<unsigned>(popcount(node.internal & below(pos)));
    if (node.internal >> pos & 1) {
      // The exact prefix exists: it changes hands and moves to the tail of the new owner's list,
      // even when the owner is the same (kernel list_move_tail, wireguard-go addToPeerEntries).
      Result& r = results_[node.result_base + i];
      const uint32_t e = r.entry;
      const uint32_t old = r.value;
      std::optional<V> previous = owners_[old].value;
      unlink(old, e);
      const uint32_t o = owner_of(v);  // may reuse old's slot if unlink freed it
      results_[node.result_base + i].value = o;
      link(o, e);
      refresh_owned(n);
      return previous;
    }
    const auto count = static_cast<unsigned>(popcount(node.internal));
    const uint32_t base = count ? results_.grow(node.result_base, count, i) : results_.alloc(1);
    const uint32_t e = new_entry(addr, len);
    const uint32_t o = owner_of(v);
    results_[base + i] = Result{o, e};
    link(o, e);
    nodes_[n].result_base = base;
    nodes_[n].internal |= uint64_t{1} << pos;
    refresh_owned(n);
    ++size_;
    compact_if_sparse();
    return std::nullopt;
  }

  // Drops the prefix f found, then the nodes left with nothing to hold, bottom up.
  void erase(const Found& f, const Key& key, unsigned len) {
    const Result r = results_[f.result];
    unlink(r.value, r.entry);
    free_entries_.push_back(r.entry);  // capacity reserved by new_entry
    Node& node = nodes_[f.node];
    const auto count = static_cast<unsigned>(popcount(node.internal));
    node.result_base = results_.shrink(node.result_base, count, f.result - node.result_base);
    node.internal &= ~(uint64_t{1} << f.pos);
    refresh_owned(f.node);
    --size_;
    unsigned touched = f.start[f.depth];
    for (unsigned d = f.depth; d > 0; --d) {
      const uint32_t n = f.path[d];
      if (nodes_[n].internal != 0) break;
      if (nodes_[n].ext != 0) {
        merge_down(n);
        break;
      }
      touched = f.start[d - 1];
      // Empty: out of its parent's children.
      const uint32_t parent = f.path[d - 1];
      const Node p = nodes_[parent];
      const uint32_t base = nodes_.shrink(p.child_base, static_cast<unsigned>(popcount(p.ext)), n - p.child_base);
      nodes_[parent].child_base = base;
      nodes_[parent].ext &= ~(uint64_t{1} << key.chunk(f.own[d - 1]));
      refresh_owned(parent);
    }
    compact_if_sparse();
    update_direct(key, touched, len, -1);
  }

  // Rebuilds both pools with only the live blocks, in trie order, once more than a fifth of
  // either is free blocks: memory stays within ~1.25 x live (+ capacity slack) whatever the order
  // of updates. O(nodes), so O(1) per update amortized: a fifth of the pool has to be freed
  // (at most 64 elements per update) before the next one.
  void compact_if_sparse() {
    const auto sparse = [](const auto& pool) { return pool.free_elements() > pool.size() / 5 + 64; };
    if (!sparse(nodes_) && !sparse(results_)) return;
    BlockPool<Node> nodes;
    BlockPool<Result> results;
    nodes.reserve(nodes_.size() - nodes_.free_elements());
    results.reserve(results_.size() - results_.free_elements());
    nodes[nodes.alloc(1)] = nodes_[0];
    copy_blocks(0, nodes, results);
    nodes_ = std::move(nodes);
    results_ = std::move(results);
    // Every node and result moved: the arrays are rebuilt by the update_direct that ends this
    // update (not here, in the middle of it, where the second stage's counts are not final).
    direct_stale_ = !direct_.empty();
  }

  // Node n is already in the new pool (at the same index there as its copy's, n); its children
  // and results move over, then the children's.
  void copy_blocks(uint32_t n, BlockPool<Node>& nodes, BlockPool<Result>& results) const {
    Node node = nodes[n];  // still the old bases
    const unsigned count = popcount(node.internal), children = popcount(node.ext);
    if (count) {
      const uint32_t base = results.alloc(count);
      for (unsigned i = 0; i < count; ++i) results[base + i] = results_[node.result_base + i];
      node.result_base = base;
    }
    const uint32_t old_children = node.child_base;
    if (children) {
      node.child_base = nodes.alloc(children);
      for (unsigned i = 0; i < children; ++i) nodes[node.child_base + i] = nodes_[old_children + i];
    }
    nodes[n] = node;
    for (unsigned i = 0; i < children; ++i) copy_blocks(node.child_base + i, nodes, results);
  }

  uint32_t new_entry(const uint8_t* addr, unsigned len) {
    uint32_t e;
    if (!free_entries_.empty()) {
      e = free_entries_.back();
      free_entries_.pop_back();
    } else {
      e = static_cast<uint32_t>(entries_.size());
      reserve_for(entries_, entries_.size() + 1);
      entries_.emplace_back();
      // erase pushes entries back here: room for every one, so a removal never allocates.
      reserve_for(free_entries_, entries_.size());
    }
    Entry& entry = entries_[e];
    entry = Entry{};
    std::memcpy(entry.addr.data(), addr, L::kBytes);
    entry.len = static_cast<uint8_t>(len);
    return e;
  }

  uint32_t owner_of(const V& v) {
    auto [it, fresh] = owner_index_.try_emplace(v, 0);
    if (!fresh) return it->second;
    uint32_t o;
    if (!free_owners_.empty()) {
      o = free_owners_.back();
      free_owners_.pop_back();
    } else {
      o = static_cast<uint32_t>(owners_.size());
      reserve_for(owners_, owners_.size() + 1);
      owners_.emplace_back();
      reserve_for(free_owners_, owners_.size());
    }
    owners_[o] = Owner{v, kNil, kNil};
    it->second = o;
    return o;
  }

  // Entry e to the tail of owner o's list.
  void link(uint32_t o, uint32_t e) {
    Owner& owner = owners_[o];
    Entry& entry = entries_[e];
    entry.prev = owner.tail;
    entry.next = kNil;
    if (owner.tail != kNil)
      entries_[owner.tail].next = e;
    else
      owner.head = e;
    owner.tail = e;
  }

  // Entry e out of owner o's list; the owner goes when its list is empty.
  void unlink(uint32_t o, uint32_t e) {
    Owner& owner = owners_[o];
    Entry& entry = entries_[e];
    if (entry.prev != kNil)
      entries_[entry.prev].next = entry.next;
    else
      owner.head = entry.next;
    if (entry.next != kNil)
      entries_[entry.next].prev = entry.prev;
    else
      owner.tail = entry.prev;
    entry.prev = entry.next = kNil;
    if (owner.head != kNil) return;
    owner_index_.erase(owner.value);
    owner = Owner{};
    free_owners_.push_back(o);  // capacity reserved by owner_of
  }

  // Pre-order by address: at each chunk, the internal prefixes that start there (shorter first),
  // then the child below it, which holds only longer prefixes of those addresses.
  template <class F>
  void visit(uint32_t n, F& f) const {
    const Node node = nodes_[n];
    uint64_t starts = node.ext;
    for (uint64_t bits = node.internal; bits; bits &= bits - 1) starts |= uint64_t{1} << kStart[std::countr_zero(bits)];
    for (; starts; starts &= starts - 1) {
      const auto c = static_cast<unsigned>(std::countr_zero(starts));
      for (unsigned l = 0; l < kStride; ++l) {
        const unsigned pos = internal_pos(l, c);
        if ((c & below(kStride - l)) != 0 || !(node.internal >> pos & 1)) continue;
        const Result& r = results_[node.result_base + static_cast<uint32_t>(popcount(node.internal & below(pos)))];
        const Entry& e = entries_[r.entry];
        f(e.addr.data(), unsigned{e.len}, owners_[r.value].value);
      }
      if (node.ext >> c & 1) visit(node.child_base + static_cast<uint32_t>(popcount(node.ext & below(c))), f);
    }
  }

  bool check_node(uint32_t n, unsigned level, bool root, Census& census) const {
    const Node& node = nodes_[n];
    const unsigned skip = skip_count(node.skip);
    const unsigned own = level + skip;
    if (skip > kMaxSkip || (node.skip & ~kSkipMask[skip] & ~uint64_t{15}) != 0 || own >= L::kLevels) return false;
    if (root && skip != 0) return false;
    if (node.internal >> 63) return false;
    const auto children = static_cast<unsigned>(popcount(node.ext));
    // A leaf's owner copy (Node::child_base), recomputed.
    if (children == 0) {
      const uint32_t owned = popcount(node.internal) == 1 ? kOwned | results_[node.result_base].value : 0;
      if (node.child_base != owned) return false;
    } else if (node.child_base & kOwned) {
      return false;
    }
    // Nothing but one child: only when the two skips cannot be merged.
    if (!root && node.internal == 0) {
      if (children == 0) return false;
      if (children == 1 && skip + 1 + skip_count(nodes_[node.child_base].skip) <= kMaxSkip) return false;
    }
    for (uint64_t bits = node.internal; bits; bits &= bits - 1) {
      const auto pos = static_cast<unsigned>(std::countr_zero(bits));
      const uint32_t at = node.result_base + static_cast<uint32_t>(popcount(node.internal & below(pos)));
      const Result& r = results_[at];
      if (r.entry >= entries_.size() || r.value >= owners_.size() || owners_[r.value].head == kNil) return false;
      const Entry& e = entries_[r.entry];
      // The entry's prefix is exactly the one this position stands for.
      if (e.len > L::kBits || Prefix::make(L::kBytes == 4 ? Family::V4 : Family::V6, e.addr.data(), e.len).addr !=
                                  padded(e.addr))
        return false;
      const Found f = find(Key::load(e.addr.data()), e.len);
      if (f.node != n || f.result != at) return false;
    }
    census.results += static_cast<size_t>(popcount(node.internal));
    census.nodes += children;
    for (unsigned i = 0; i < children; ++i)
      if (!check_node(node.child_base + i, own + 1, false, census)) return false;
    return true;
  }

  static std::array<uint8_t, 16> padded(const std::array<uint8_t, L::kBytes>& a) {
    std::array<uint8_t, 16> out{};
    std::copy(a.begin(), a.end(), out.begin());
    return out;
  }

  BlockPool<Node> nodes_;    // index 0: the root, once anything was inserted
  BlockPool<Result> results_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_entries_;
  std::vector<Owner> owners_;
  std::vector<uint32_t> free_owners_;
  std::unordered_map<V, uint32_t, Hash> owner_index_;
  size_t size_ = 0;
  std::vector<Direct> direct_;  // empty below direct_min_ prefixes
  unsigned direct_bits_ = 0;    // its index bits; 0: no array
  std::vector<Direct> second_;           // the second stage's blocks, 2^kSecondBits entries each
  std::vector<uint32_t> free_seconds_;   // blocks not in use
  std::vector<uint32_t> below_;          // per first-stage entry: its prefixes longer than direct_bits_
  bool direct_stale_ = false;            // a compaction moved what the arrays point to
  size_t direct_min_ = size_t{1} << (kDirectSmallest - 1);
};

}  // namespace prefix_trie

// V needs to be copyable, default-constructible, equality-comparable and hashable by Hash.
// L4 and L6 are the families' layouts; other ones than the defaults are for tests (fuzz/lpm_diff
// takes smaller direct-pointing arrays, which it can check after every operation).
template <class V, class Hash = std::hash<V>, class L4 = prefix_trie::Layout4, class L6 = prefix_trie::Layout6>
class PrefixTable {
 public:
  PrefixTable() = default;
  // The small-table scans point into the tries: a copy points into its own.
  PrefixTable(const PrefixTable& o) : v4_(o.v4_), v6_(o.v6_) { rescan(); }
  PrefixTable& operator=(const PrefixTable& o) {
    if (this != &o) {
      v4_ = o.v4_;
      v6_ = o.v6_;
      rescan();
    }
    return *this;
  }
  PrefixTable(PrefixTable&& o) noexcept : v4_(std::move(o.v4_)), v6_(std::move(o.v6_)) {
    rescan();
    o.rescan();
  }
  PrefixTable& operator=(PrefixTable&& o) noexcept {
    if (this != &o) {
      v4_ = std::move(o.v4_);
      v6_ = std::move(o.v6_);
      rescan();
      o.rescan();
    }
    return *this;
  }

  // Inserts or replaces; returns the previous owner when the exact prefix existed (wg's "moves
  // to the new peer"). Host bits are ignored. A prefix of no family is not inserted.
  std::optional<V> insert(const Prefix& p, V v) {
    const Prefix q = normal(p);
    std::optional<V> old;
    if (q.family == Family::V4) old = v4_.insert(q.addr.data(), q.len, v);
    if (q.family == Family::V6) old = v6_.insert(q.addr.data(), q.len, v);
    rescan(q.family);
    return old;
  }

  // Removes the exact prefix, whoever owns it.
  bool remove(const Prefix& p) {
    const Prefix q = normal(p);
    bool removed = false;
    if (q.family == Family::V4) removed = v4_.remove(q.addr.data(), q.len);
    if (q.family == Family::V6) removed = v6_.remove(q.addr.data(), q.len);
    if (removed) rescan(q.family);
    return removed;
  }

  // Removes the exact prefix only if v owns it (wg `allowed_ip=-prefix`).
  bool remove_if(const Prefix& p, const V& v) {
    const Prefix q = normal(p);
    bool removed = false;
    if (q.family == Family::V4) removed = v4_.remove_if(q.addr.data(), q.len, v);
    if (q.family == Family::V6) removed = v6_.remove_if(q.addr.data(), q.len, v);
    if (removed) rescan(q.family);
    return removed;
  }

  // Removes every prefix of v; returns how many. O(prefixes of v).
  size_t remove_value(const V& v) {
    const size_t removed = v4_.remove_value(v) + v6_.remove_value(v);
    if (removed) rescan();
    return removed;
  }

  // Longest match for a 4- or 16-byte address in network order; nullptr when none. The pointer
  // is valid until the next change to the table. No allocation; at most kScanMax prefixes
  // compared, or 7 (IPv4) / 23 (IPv6) nodes visited.
  const V* lookup(Family f, const uint8_t* addr) const {
    if (f == Family::V4) return scan4_.active ? scan4_.find(addr) : v4_.lookup(addr);
    if (f == Family::V6) return scan6_.active ? scan6_.find(addr) : v6_.lookup(addr);
    return nullptr;
  }

  // The trie alone, scan or not (tests).
  const V* lookup_walk(Family f, const uint8_t* addr) const {
    if (f == Family::V4) return v4_.lookup(addr);
    if (f == Family::V6) return v6_.lookup(addr);
    return nullptr;
  }

  // The same lookups for many addresses of one family: out[i] = lookup(f, addrs[i]) for every i
  // (out must be at least as long). Faster than one by one when the table does not fit in the
  // cache: kBatchLanes walks advance in turn, each prefetching the next node it needs, so their
  // cache misses overlap. No allocation. IPv6 keeps twice as many in flight: its walks are
  // longer, and at 1 M prefixes 64 lanes did 18-19 M/s against 16-16.6 with 32 (IPv4: no
  // difference; bench/RESULTS.md).
  static constexpr unsigned kBatchLanes = 32;
  static constexpr unsigned kBatchLanes6 = 64;
  void lookup_batch(Family f, std::span<const uint8_t* const> addrs, std::span<const V*> out) const {
    if (f == Family::V6)
      lookup_batch<kBatchLanes6>(f, addrs, out);
    else
      lookup_batch<kBatchLanes>(f, addrs, out);
  }
  // With another number of lanes, or without the popcnt instruction, for lpm_scale_bench.
  template <unsigned G, bool Popcnt = true>
  void lookup_batch(Family f, std::span<const uint8_t* const> addrs, std::span<const V*> out) const {
    // A scanned family is answered by its scan, as lookup() does: the same answers, and a
    // table that small is in the cache anyway.
    if (f == Family::V4 && scan4_.active) {
      for (size_t i = 0; i < addrs.size(); ++i) out[i] = scan4_.find(addrs[i]);
      return;
    }
    if (f == Family::V6 && scan6_.active) {
      for (size_t i = 0; i < addrs.size(); ++i) out[i] = scan6_.find(addrs[i]);
      return;
    }
    if (f == Family::V4) return v4_.template lookup_batch<G, Popcnt>(addrs, out);
    if (f == Family::V6) return v6_.template lookup_batch<G, Popcnt>(addrs, out);
    for (size_t i = 0; i < addrs.size(); ++i) out[i] = nullptr;
  }

  // f(const Prefix&, const V&): IPv4 then IPv6, each by address, then by length.
  template <class F>
  void for_each(F&& f) const {
    v4_.for_each([&](const uint8_t* a, unsigned len, const V& v) { f(make_prefix(Family::V4, a, len), v); });
    v6_.for_each([&](const uint8_t* a, unsigned len, const V& v) { f(make_prefix(Family::V6, a, len), v); });
  }

  // f(const Prefix&) for v's prefixes: IPv4 then IPv6, each in insertion order (`wg show` order).
  template <class F>
  void for_each_of(const V& v, F&& f) const {
    v4_.for_each_of(v, [&](const uint8_t* a, unsigned len) { f(make_prefix(Family::V4, a, len)); });
    v6_.for_each_of(v, [&](const uint8_t* a, unsigned len) { f(make_prefix(Family::V6, a, len)); });
  }

  size_t size() const { return v4_.size() + v6_.size(); }
  void clear() {
    v4_.clear();
    v6_.clear();
    rescan();
  }
  size_t memory_bytes() const { return sizeof(*this) + v4_.memory_bytes() + v6_.memory_bytes(); }
  // Structural self-check for tests (bitmaps, skips, blocks, owner lists, counts, the
  // direct-pointing arrays), and that the small-table scans agree with the tries.
  bool check() const { return v4_.check() && v6_.check() && scan_ok(scan4_, v4_) && scan_ok(scan6_, v6_); }
  // Whether a family's lookups are scans (for tests and benchmarks).
  bool scanned(Family f) const { return f == Family::V4 ? scan4_.active : f == Family::V6 && scan6_.active; }
  // For tests: the size from which a family gets its smallest direct-pointing array (default
  // 4096: 13 bits; IPv4 gets 19 bits from 64 times that), and how many bits it has now (0: none).
  void set_direct_threshold(size_t prefixes) {
    v4_.set_direct_threshold(prefixes);
    v6_.set_direct_threshold(prefixes);
  }
  unsigned direct_bits(Family f) const { return f == Family::V4 ? v4_.direct_bits() : v6_.direct_bits(); }
  // And how many blocks its second direct stage has (IPv6 only, under entries holding at least
  // half the threshold of longer prefixes).
  size_t second_blocks(Family f) const { return f == Family::V4 ? v4_.second_blocks() : v6_.second_blocks(); }

  // A family holding at most this many prefixes is looked up by comparing each of them.
  static constexpr size_t kScanMax = 16;

 private:
  // Small tables — a port's AllowedSource (one or two prefixes), a small gateway's routes — are
  // the data path's common case, and there a walk down the trie costs more than it saves: a
  // /128 is four nodes deep (each skips at most 9 levels), 17 ns per lookup against 4 ns for a
  // compare per prefix (datapath_bench antispoof, bench/RESULTS.md). So each family also keeps
  // its prefixes, longest first, as masked 128-bit words while it holds at most kScanMax; the
  // first match is the longest. Rebuilt from the trie after every change (O(kScanMax)); the
  // values point into the trie's owners, valid until the next change like lookup's result.
  template <unsigned Bytes>
  struct Scan {
    struct Item {
      uint64_t hi = 0, lo = 0, mask_hi = 0, mask_lo = 0;
      const V* value = nullptr;
    };
    std::array<Item, kScanMax> items{};
    uint32_t count = 0;
    bool active = true;  // an empty table is scanned too: nothing to compare

    static void load(const uint8_t* a, uint64_t& hi, uint64_t& lo) {
      uint8_t b[16] = {};
      std::memcpy(b, a, Bytes);
      std::memcpy(&hi, b, 8);
      std::memcpy(&lo, b + 8, 8);
      if constexpr (std::endian::native == std::endian::little) {
        hi = __builtin_bswap64(hi);
        lo = __builtin_bswap64(lo);
      }
    }
    const V* find(const uint8_t* addr) const {
      uint64_t hi, lo;
      load(addr, hi, lo);
      for (uint32_t i = 0; i < count; ++i) {
        const Item& it = items[i];
        if ((((hi ^ it.hi) & it.mask_hi) | ((lo ^ it.lo) & it.mask_lo)) == 0) return it.value;
      }
      return nullptr;
    }
    template <class T>
    void build(const T& trie) {
      active = trie.size() <= kScanMax;
      count = 0;
      if (!active) return;
      std::array<uint8_t, kScanMax> lens{};
      trie.for_each([&](const uint8_t* a, unsigned len, const V& v) {
        Item& it = items[count];
        load(a, it.hi, it.lo);
        it.mask_hi = len == 0 ? 0 : len >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - len);
        it.mask_lo = len <= 64 ? 0 : len >= 128 ? ~uint64_t{0} : ~uint64_t{0} << (128 - len);
        it.value = &v;
        lens[count++] = static_cast<uint8_t>(len);
      });
      // Longest first; equal lengths cannot both match one address.
      for (uint32_t i = 1; i < count; ++i)
        for (uint32_t j = i; j > 0 && lens[j - 1] < lens[j]; --j) {
          std::swap(items[j - 1], items[j]);
          std::swap(lens[j - 1], lens[j]);
        }
    }
  };

  void rescan(Family f) {
    if (f == Family::V4) scan4_.build(v4_);
    if (f == Family::V6) scan6_.build(v6_);
  }
  void rescan() {
    scan4_.build(v4_);
    scan6_.build(v6_);
  }
  template <class S, class T>
  static bool scan_ok(const S& scan, const T& trie) {
    if (scan.active != (trie.size() <= kScanMax)) return false;
    if (scan.active && scan.count != trie.size()) return false;
    return true;
  }

  // Host bits cleared, the length clamped to the family's width.
  static Prefix normal(const Prefix& p) {
    if (p.family != Family::V4 && p.family != Family::V6) return Prefix{};
    return Prefix::make(p.family, p.addr.data(), std::min(p.len, Prefix::max_len(p.family)));
  }
  static Prefix make_prefix(Family f, const uint8_t* a, unsigned len) {
    return Prefix::make(f, a, static_cast<uint8_t>(len));
  }

  prefix_trie::Trie<L4, V, Hash> v4_;
  prefix_trie::Trie<L6, V, Hash> v6_;
  Scan<4> scan4_;
  Scan<16> scan6_;
};

}  // namespace wg::core
