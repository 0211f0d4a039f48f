// core/result.hpp — value-or-error for fallible calls outside the per-packet path.
// Only the members std::expected shares are used, so switching to C++23 is one line.
#pragma once
#include <tl/expected.hpp>

namespace wg {

template <class T, class E>
using Result = tl::expected<T, E>;

template <class E>
using Unexpected = tl::unexpected<E>;

}  // namespace wg
