#!/usr/bin/env bash
# tests/interop/run.sh [BUILD_DIR] - installs the independent Noise library (npm
# noise-protocol) beside this script and runs test_interop, which starts a jetsync listener
# and drives client.js against it. ctest runs test_interop too but skips it when the npm
# modules are absent, so this script is the way to make it count.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
command -v npm >/dev/null || { echo "run.sh: npm is missing (apt-get install npm)" >&2; exit 2; }
(cd "$here" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
"$build/tests/test_interop"
