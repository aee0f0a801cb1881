#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs dependencies, checks formatting, builds
# and tests the default and the sanitizer builds, then fuzzes the policy parser and verifier and the
# parsers of device input (uevents, USB descriptors).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
bash tests/check-format.sh

jobs=$(nproc)
for preset in default asan; do
  echo "== build: $preset"
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  echo "== test: $preset"
  ctest --preset "$preset" -j "$jobs"
done

echo "== fuzz"
cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"
ctest --preset fuzz
