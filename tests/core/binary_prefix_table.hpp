// tests/core/binary_prefix_table.hpp — the reference for PrefixTable: the path-compressed binary
// radix trie (one per family, as kernel allowedips.c) that core/prefix_table.hpp was before the
// multibit trie of issue 13. Same API and semantics; the differential test, lpm_diff_fuzz and
// lpm_scale_bench compare the two. A node per prefix plus forks, every node a cache miss at scale.
// Not thread-safe.
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/endpoint.hpp"
#include "core/prefix.hpp"

namespace wg::core::reference {

namespace binary_trie {

// Bit operations on a family's address, held as an unsigned integer in host order so that bit 0
// is the most significant bit of the first address byte.
struct Bits32 {
  using Key = uint32_t;
  static constexpr unsigned kBits = 32;

  static Key load(const uint8_t* a) {
    return uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | uint32_t{a[3]};
  }
  static void store(Key k, uint8_t* a) {
    for (int i = 0; i < 4; ++i) a[i] = static_cast<uint8_t>(k >> (24 - 8 * i));
  }
  static unsigned bit(Key k, unsigned i) { return (k >> (31 - i)) & 1u; }
  // k with every bit at position >= len cleared.
  static Key mask(Key k, unsigned len) { return len == 0 ? 0 : k & (~Key{0} << (32 - len)); }
  static bool matches(Key k, Key prefix, unsigned len) { return mask(k ^ prefix, len) == 0; }
  static unsigned common_bits(Key a, Key b) { return static_cast<unsigned>(std::countl_zero(a ^ b)); }
};

struct U128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  friend bool operator==(const U128&, const U128&) = default;
};

struct Bits128 {
  using Key = U128;
  static constexpr unsigned kBits = 128;

  static uint64_t load64(const uint8_t* a) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | a[i];
    return v;
  }
  static Key load(const uint8_t* a) { return {load64(a), load64(a + 8)}; }
  static void store(Key k, uint8_t* a) {
    for (int i = 0; i < 8; ++i) {
      a[i] = static_cast<uint8_t>(k.hi >> (56 - 8 * i));
      a[8 + i] = static_cast<uint8_t>(k.lo >> (56 - 8 * i));
    }
  }
  static unsigned bit(Key k, unsigned i) {
    return i < 64 ? static_cast<unsigned>(k.hi >> (63 - i)) & 1u : static_cast<unsigned>(k.lo >> (127 - i)) & 1u;
  }
  static Key mask(Key k, unsigned len) {
    if (len == 0) return {};
    if (len <= 64) return {k.hi & (~uint64_t{0} << (64 - len)), 0};
    return {k.hi, k.lo & (~uint64_t{0} << (128 - len))};
  }
  static bool matches(Key k, Key prefix, unsigned len) {
    const Key x = mask({k.hi ^ prefix.hi, k.lo ^ prefix.lo}, len);
    return x.hi == 0 && x.lo == 0;
  }
  static unsigned common_bits(Key a, Key b) {
    if (a.hi != b.hi) return static_cast<unsigned>(std::countl_zero(a.hi ^ b.hi));
    return 64 + static_cast<unsigned>(std::countl_zero(a.lo ^ b.lo));
  }
};

// One family's trie. Every node is a prefix (key masked to len); a node without a value is a
// fork with exactly two children, so there are at most 2n-1 nodes for n prefixes. A node's
// children extend its prefix by bit `len` = 0 or 1.
template <class B, class V, class Hash>
class Trie {
 public:
  using Key = typename B::Key;
  static constexpr uint32_t kNil = ~uint32_t{0};

  size_t size() const { return size_; }

  void clear() {
    nodes_.clear();
    free_.clear();
    owners_.clear();
    root_ = kNil;
    size_ = 0;
  }

  // Pool and index bytes, capacity included (what the table really holds on to).
  size_t memory_bytes() const {
    // An unordered_map node holds the pair, a next pointer and the cached hash.
    constexpr size_t kOwnerNode = sizeof(std::pair<const V, Ends>) + 2 * sizeof(void*);
    return nodes_.capacity() * sizeof(Node) + free_.capacity() * sizeof(uint32_t) +
           owners_.bucket_count() * sizeof(void*) + owners_.size() * kOwnerNode;
  }

  // key must already be masked to len.
  std::optional<V> insert(Key key, unsigned len, const V& v) {
    uint32_t parent = kNil;
    uint32_t n = root_;
    while (n != kNil) {
      Node& node = nodes_[n];
      if (node.len > len || !B::matches(key, node.key, node.len)) break;
      if (node.len == len) return assign(n, v);
      parent = n;
      n = node.child[B::bit(key, node.len)];
    }
    const uint32_t fresh = alloc(key, len);
    set_value(fresh, v);
    if (n == kNil) {
      attach(parent, fresh, key);
      return std::nullopt;
    }
    // n does not lie under the new prefix's parent path: either the new prefix covers n, or
    // they split at their first differing bit under a new fork.
    const Key n_key = nodes_[n].key;
    const unsigned cidr = std::min({len, B::common_bits(key, n_key), unsigned{nodes_[n].len}});
    if (cidr == len) {
      nodes_[fresh].child[B::bit(n_key, len)] = n;
      replace_child(parent, n, fresh);
      nodes_[n].parent = fresh;
      return std::nullopt;
    }
    const uint32_t fork = alloc(B::mask(key, cidr), cidr);
    nodes_[fork].child[B::bit(n_key, cidr)] = n;
    nodes_[fork].child[B::bit(key, cidr)] = fresh;
    replace_child(parent, n, fork);
    nodes_[n].parent = fork;
    nodes_[fresh].parent = fork;
    return std::nullopt;
  }

  bool remove(Key key, unsigned len) {
    const uint32_t n = find_exact(key, len);
    if (n == kNil) return false;
    remove_node(n);
    return true;
  }

  bool remove_if(Key key, unsigned len, const V& v) {
    const uint32_t n = find_exact(key, len);
    if (n == kNil || !(nodes_[n].value == v)) return false;
    remove_node(n);
    return true;
  }

  size_t remove_value(const V& v) {
    auto it = owners_.find(v);
    if (it == owners_.end()) return 0;
    size_t removed = 0;
    // remove_node frees only n and possibly a value-less fork, never another valued node, so
    // the saved next stays valid.
    for (uint32_t n = it->second.head; n != kNil;) {
      const uint32_t next = nodes_[n].next;
      remove_node(n);
      ++removed;
      n = next;
    }
    return removed;
  }

  const V* lookup(Key key) const {
    const V* best = nullptr;
    uint32_t n = root_;
    while (n != kNil) {
      const Node& node = nodes_[n];
      if (!B::matches(key, node.key, node.len)) break;
      if (node.has_value) best = &node.value;
      if (node.len == B::kBits) break;
      n = node.child[B::bit(key, node.len)];
    }
    return best;
  }

  // Pre-order: a prefix before the longer ones under it, the 0 side before the 1 side, which is
  // address order and, for equal addresses, length order. f(Key, unsigned len, const V&).
  template <class F>
  void for_each(F&& f) const {
    if (root_ == kNil) return;
    // Holds at most one pending sibling per level of the current path (<= kBits + 1 levels).
    std::array<uint32_t, 2 * B::kBits + 4> stack;
    size_t top = 0;
    stack[top++] = root_;
    while (top) {
      const Node& node = nodes_[stack[--top]];
      if (node.has_value) f(node.key, unsigned{node.len}, node.value);
      if (node.child[1] != kNil) stack[top++] = node.child[1];
      if (node.child[0] != kNil) stack[top++] = node.child[0];
    }
  }

  // The prefixes of one value, in the order they were (last) inserted. f(Key, unsigned len).
  template <class F>
  void for_each_of(const V& v, F&& f) const {
    auto it = owners_.find(v);
    if (it == owners_.end()) return;
    for (uint32_t n = it->second.head; n != kNil; n = nodes_[n].next) f(nodes_[n].key, unsigned{nodes_[n].len});
  }

  // Checks every structural invariant; for tests. Returns false on the first violation.
  bool check() const {
    size_t valued = 0;
    bool ok = true;
    check_subtree(root_, kNil, valued, ok);
    size_t listed = 0;
    for (const auto& [v, ends] : owners_) {
      uint32_t prev = kNil;
      for (uint32_t n = ends.head; n != kNil && ok; n = nodes_[n].next) {
        ok = nodes_[n].has_value && nodes_[n].value == v && nodes_[n].prev == prev;
        prev = n;
        ++listed;
      }
      ok = ok && ends.tail == prev;
    }
    return ok && valued == size_ && listed == size_;
  }

 private:
  struct Node {
    Key key{};
    uint32_t child[2] = {kNil, kNil};
    uint32_t parent = kNil;
    uint32_t prev = kNil;  // neighbours in this value's list
    uint32_t next = kNil;
    uint8_t len = 0;
    bool has_value = false;
    V value{};
  };
  struct Ends {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  uint32_t alloc(Key key, unsigned len) {
    uint32_t n;
    if (!free_.empty()) {
      n = free_.back();
      free_.pop_back();
      nodes_[n] = Node{};
    } else {
      n = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    nodes_[n].key = key;
    nodes_[n].len = static_cast<uint8_t>(len);
    return n;
  }

  void release(uint32_t n) {
    nodes_[n].has_value = false;
    nodes_[n].value = V{};
    free_.push_back(n);
  }

  uint32_t find_exact(Key key, unsigned len) const {
    uint32_t n = root_;
    while (n != kNil) {
      const Node& node = nodes_[n];
      if (node.len > len || !B::matches(key, node.key, node.len)) return kNil;
      if (node.len == len) return node.has_value ? n : kNil;
      n = node.child[B::bit(key, node.len)];
    }
    return kNil;
  }

  // Links n at the tail of v's list (kernel and wireguard-go list a peer's IPs in this order).
  void set_value(uint32_t n, const V& v) {
    Ends& ends = owners_[v];
    Node& node = nodes_[n];
    node.value = v;
    node.has_value = true;
    node.prev = ends.tail;
    node.next = kNil;
    if (ends.tail != kNil)
      nodes_[ends.tail].next = n;
    else
      ends.head = n;
    ends.tail = n;
    ++size_;
  }

  void clear_value(uint32_t n) {
    Node& node = nodes_[n];
    auto it = owners_.find(node.value);
    Ends& ends = it->second;
    if (node.prev != kNil)
      nodes_[node.prev].next = node.next;
    else
      ends.head = node.next;
    if (node.next != kNil)
      nodes_[node.next].prev = node.prev;
    else
      ends.tail = node.prev;
    if (ends.head == kNil) owners_.erase(it);
    node.has_value = false;
    node.value = V{};
    node.prev = node.next = kNil;
    --size_;
  }

  // The exact prefix exists: it changes hands and moves to the tail of the new owner's list,
  // even when the owner is the same (kernel list_move_tail, wireguard-go addToPeerEntries).
  std::optional<V> assign(uint32_t n, const V& v) {
    std::optional<V> previous;
    if (nodes_[n].has_value) {
      previous = nodes_[n].value;
      clear_value(n);
    }
    set_value(n, v);
    return previous;
  }

  void attach(uint32_t parent, uint32_t n, Key key) {
    nodes_[n].parent = parent;
    if (parent == kNil)
      root_ = n;
    else
      nodes_[parent].child[B::bit(key, nodes_[parent].len)] = n;
  }

  void replace_child(uint32_t parent, uint32_t old_child, uint32_t new_child) {
    if (new_child != kNil) nodes_[new_child].parent = parent;
    if (parent == kNil) {
      root_ = new_child;
      return;
    }
    uint32_t* c = nodes_[parent].child;
    (c[0] == old_child ? c[0] : c[1]) = new_child;
  }

  // Drops n's value, then splices out whatever is left without a reason to exist: n itself if it
  // has fewer than two children, and its parent if that was a fork left with one child.
  void remove_node(uint32_t n) {
    clear_value(n);
    const uint32_t* c = nodes_[n].child;
    if (c[0] != kNil && c[1] != kNil) return;  // stays as a fork
    const uint32_t only = c[0] != kNil ? c[0] : c[1];
    const uint32_t parent = nodes_[n].parent;
    replace_child(parent, n, only);
    release(n);
    if (only != kNil || parent == kNil || nodes_[parent].has_value) return;
    const uint32_t* pc = nodes_[parent].child;
    const uint32_t other = pc[0] != kNil ? pc[0] : pc[1];
    replace_child(nodes_[parent].parent, parent, other);
    release(parent);
  }

  void check_subtree(uint32_t n, uint32_t parent, size_t& valued, bool& ok) const {
    if (n == kNil || !ok) return;
    const Node& node = nodes_[n];
    if (node.parent != parent || node.len > B::kBits || !(B::mask(node.key, node.len) == node.key)) ok = false;
    if (parent != kNil) {
      const Node& p = nodes_[parent];
      if (node.len <= p.len || !B::matches(node.key, p.key, p.len) || p.child[B::bit(node.key, p.len)] != n) ok = false;
    }
    const int children = (node.child[0] != kNil) + (node.child[1] != kNil);
    if (!node.has_value && children != 2) ok = false;
    if (node.has_value) ++valued;
    check_subtree(node.child[0], n, valued, ok);
    check_subtree(node.child[1], n, valued, ok);
  }

  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  std::unordered_map<V, Ends, Hash> owners_;
  uint32_t root_ = kNil;
  size_t size_ = 0;
};

}  // namespace binary_trie

// V needs to be copyable, default-constructible, equality-comparable and hashable by Hash.
template <class V, class Hash = std::hash<V>>
class BinaryPrefixTable {
 public:
  // Inserts or replaces; returns the previous owner when the exact prefix existed (wg's "moves
  // to the new peer"). Host bits are ignored. A prefix of no family is not inserted.
  std::optional<V> insert(const Prefix& p, V v) {
    if (p.family == Family::V4) return v4_.insert(key4(p), len4(p), v);
    if (p.family == Family::V6) return v6_.insert(key6(p), len6(p), v);
    return std::nullopt;
  }

  // Removes the exact prefix, whoever owns it.
  bool remove(const Prefix& p) {
    if (p.family == Family::V4) return v4_.remove(key4(p), len4(p));
    if (p.family == Family::V6) return v6_.remove(key6(p), len6(p));
    return false;
  }

  // Removes the exact prefix only if v owns it (wg `allowed_ip=-prefix`).
  bool remove_if(const Prefix& p, const V& v) {
    if (p.family == Family::V4) return v4_.remove_if(key4(p), len4(p), v);
    if (p.family == Family::V6) return v6_.remove_if(key6(p), len6(p), v);
    return false;
  }

  // Removes every prefix of v; returns how many. O(prefixes of v).
  size_t remove_value(const V& v) { return v4_.remove_value(v) + v6_.remove_value(v); }

  // Longest match for a 4- or 16-byte address in network order; nullptr when none. The pointer
  // is valid until the next change to the table. No allocation; at most 33 or 129 nodes visited.
  const V* lookup(Family f, const uint8_t* addr) const {
    if (f == Family::V4) return v4_.lookup(binary_trie::Bits32::load(addr));
    if (f == Family::V6) return v6_.lookup(binary_trie::Bits128::load(addr));
    return nullptr;
  }

  // f(const Prefix&, const V&): IPv4 then IPv6, each by address, then by length.
  template <class F>
  void for_each(F&& f) const {
    using binary_trie::Bits128;
    using binary_trie::Bits32;
    v4_.for_each([&](Bits32::Key k, unsigned len, const V& v) { f(make_prefix<Bits32>(Family::V4, k, len), v); });
    v6_.for_each([&](Bits128::Key k, unsigned len, const V& v) { f(make_prefix<Bits128>(Family::V6, k, len), v); });
  }

  // f(const Prefix&) for v's prefixes: IPv4 then IPv6, each in insertion order (`wg show` order).
  template <class F>
  void for_each_of(const V& v, F&& f) const {
    using binary_trie::Bits128;
    using binary_trie::Bits32;
    v4_.for_each_of(v, [&](Bits32::Key k, unsigned len) { f(make_prefix<Bits32>(Family::V4, k, len)); });
    v6_.for_each_of(v, [&](Bits128::Key k, unsigned len) { f(make_prefix<Bits128>(Family::V6, k, len)); });
  }

  size_t size() const { return v4_.size() + v6_.size(); }
  void clear() {
    v4_.clear();
    v6_.clear();
  }
  size_t memory_bytes() const { return sizeof(*this) + v4_.memory_bytes() + v6_.memory_bytes(); }
  // Structural self-check for tests (parent links, forks, masks, owner lists, counts).
  bool check() const { return v4_.check() && v6_.check(); }

 private:
  static unsigned len4(const Prefix& p) { return std::min<unsigned>(p.len, 32); }
  static unsigned len6(const Prefix& p) { return std::min<unsigned>(p.len, 128); }
  static binary_trie::Bits32::Key key4(const Prefix& p) {
    return binary_trie::Bits32::mask(binary_trie::Bits32::load(p.addr.data()), len4(p));
  }
  static binary_trie::Bits128::Key key6(const Prefix& p) {
    return binary_trie::Bits128::mask(binary_trie::Bits128::load(p.addr.data()), len6(p));
  }
  template <class B>
  static Prefix make_prefix(Family f, typename B::Key k, unsigned len) {
    Prefix p;
    p.family = f;
    B::store(k, p.addr.data());
    p.len = static_cast<uint8_t>(len);
    return p;
  }

  binary_trie::Trie<binary_trie::Bits32, V, Hash> v4_;
  binary_trie::Trie<binary_trie::Bits128, V, Hash> v6_;
};

}  // namespace wg::core::reference
