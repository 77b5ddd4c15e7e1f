#!/usr/bin/env bash
# Download, here, the wheels bench/gpu_check.sh installs on a borrowed GPU machine
# (Python 3.12, x86-64; that machine already has JAX with CUDA, numba, typer, rich,
# pytest and matplotlib, but not PyTensor). They land in .whl/, which git ignores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
for pkg in pytensor cons etuples logical-unification miniKanren scipy-openblas32 multipledispatch toolz; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp $plat -d .whl "$pkg" 2>/dev/null \
  || python3 -m pip download -q --no-deps --python-version 3.12 -d .whl "$pkg"
done
ls -la .whl
