#!/usr/bin/env bash
# Wheels for benchmarks/gpu.sh on a lent GPU machine, which cannot download anything: what its
# image lacks (sciml itself, its pure-JAX graph libraries, ASE, and the peers pykan, jaxkan and
# mace-torch with their small dependencies), for Python 3.12 on x86-64 Linux, into .whl/
# (ignored by git; ~7 MB, inside the 64 MiB a device call carries). Run here, once:
#   bash benchmarks/gpu_wheels.sh
# then on the device (carry .whl):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site && \
#       bash benchmarks/gpu.sh --mace-python "$(command -v python3)"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
rm -rf .whl && mkdir -p .whl
"$PY" -m pip wheel -q --no-deps -w .whl .
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
    -d .whl jraph==0.0.6.dev0 e3nn-jax h5netcdf ase pykan==0.2.8 jaxkan==0.3.7 mace-torch e3nn==0.4.4 torch-ema \
    opt-einsum-fx matscipy prettytable configargparse lmdb orjson GitPython gitdb smmap
# A pure-Python package published as a source archive only.
"$PY" -m pip wheel -q --no-deps -w .whl python-hostlist
ls -la .whl && du -sh .whl
