// core/ids.hpp — the small handles the data path passes around instead of pointers.
#pragma once
#include <cstdint>

namespace wg::core {

// A peer of the Device: an index into its peer slots (a removed peer's slot may be reused).
using PeerId = uint32_t;
inline constexpr PeerId kNoPeer = ~PeerId{0};

// A gateway port: dense from 0, never reused after the port is removed.
using PortId = uint32_t;

}  // namespace wg::core
