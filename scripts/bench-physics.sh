#!/usr/bin/env bash
# Physics benchmark: our pulse fitter beside SciPy's least_squares (method "lm", exact
# Jacobian) on the same synthetic pulses, plus the shower filter's rates.
#
#   scripts/bench-physics.sh [PULSES_PER_LEVEL_FOR_SCIPY]
#
# Builds and runs `bench_physics` (release), creates a throwaway Python virtual
# environment in a temporary directory, installs scipy and numpy into it, fits the
# benchmark's pulses with scripts/scipy_fit.py and prints both side by side with the
# ratio of fit rates, as a markdown table at the end: per level count the peak-height
# bias, RMS relative error and coverage (fraction of fits with |fit - truth| <= error),
# pull mean/width, onset bias/coverage/pulls and failures, for both fitters.
# Everything temporary is removed on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
per_level="${1:-2000}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-physics.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "== building bench_physics (release)"
(cd "$root" && cargo build --release -p examples --example bench_physics)
target="${CARGO_TARGET_DIR:-$root/target}"

echo "== ours"
"$target/release/examples/bench_physics" --accuracy "$per_level" \
    --csv "$tmp/pulses.csv" --json "$tmp/ours.json"

echo
echo "== installing scipy and numpy into a throwaway virtual environment"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check scipy numpy
"$tmp/venv/bin/python" -c 'import scipy, numpy; print("scipy", scipy.__version__, "numpy", numpy.__version__)'

echo
echo "== scipy least_squares(method=\"lm\"), one core"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$tmp/venv/bin/python" "$here/scipy_fit.py" "$tmp/pulses.csv" \
    --per-level "$per_level" --json "$tmp/scipy.json" --ours "$tmp/ours.json"
