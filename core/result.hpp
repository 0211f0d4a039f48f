// core/result.hpp — value-or-error for fallible calls outside the per-packet path.
// Only the members std::expected shares are used, so switching to C++23 is one line.
#pragma once
#include <tl/expected.hpp>

namespace wg {

template <class T, class E>
using Result = tl::expected<T, E>;

// A class rather than an alias so `return Unexpected(err);` deduces E on every compiler
// (clang before 19 cannot deduce through alias templates).
template <class E>
struct Unexpected : tl::unexpected<E> {
  using tl::unexpected<E>::unexpected;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

}  // namespace wg
