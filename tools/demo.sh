#!/usr/bin/env bash
# tools/demo.sh — wgrouter's main job on a built-in default: installs what is missing,
# builds, and runs the in-process self-check (two peers with fresh keys: handshake, data both
# ways). Later milestones replace this with the namespace demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build wgrouter
./build/wgrouter --version
./build/wgrouter selftest
