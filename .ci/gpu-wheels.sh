#!/usr/bin/env bash
# Fetch into .wheels/ (git-ignored) the wheels tests/run_gpu.sh installs on the GPU machine,
# at the versions requirements.lock pins, for its Python (3.12, x86-64): what its image
# lacks (xdsl, filecheck, lit and their dependencies) and what must match CPU CI's
# (onnxruntime, onnx, ml_dtypes). Run it here, then carry .wheels to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/gpu-packages.sh
mkdir -p .wheels
rm -f .wheels/*.whl
# shellcheck disable=SC2046
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .wheels $(gpu_pins)
ls .wheels
