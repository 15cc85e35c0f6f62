#!/usr/bin/env bash
# The GPU figures in one run (at most ~8 minutes on one GPU): KAN steps against jaxkan, pykan
# and the floor, Burgers time to accuracy, potentials' throughput. Writes
# benchmarks/results/gpu.json with the card's name (see benchmarks/gpu.py).
#   bash benchmarks/gpu.sh              # on the GPU machine
#   bash benchmarks/gpu.sh --dry-run    # toy sizes on any device: checks the script only
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
exec "$PY" benchmarks/gpu.py "$@"
