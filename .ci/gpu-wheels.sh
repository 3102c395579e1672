#!/usr/bin/env bash
# Fetch into .wheels/ (git-ignored) the wheels tests/run_gpu.sh installs on the GPU machine,
# at the versions requirements.lock pins, for its Python (3.12, x86-64): what its image
# lacks (xdsl, filecheck, lit and their dependencies) and what must match CPU CI's
# (onnxruntime, onnx, ml_dtypes); and into .wheels/extra/ the `cuda-libs` extra at
# pyproject.toml's pins (nvmath-python and what it imports: cuBLASLt tactics;
# nvidia-cudnn-frontend: cuDNN tactics, with torch's cuDNN 9). Run it here,
# then carry .wheels to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/gpu-packages.sh
mkdir -p .wheels/extra
rm -f .wheels/*.whl .wheels/extra/*.whl
download() {  # download DIR PIN...
    local dir=$1
    shift
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$dir" "$@"
}
# shellcheck disable=SC2046
download .wheels $(gpu_pins)
# shellcheck disable=SC2046
download .wheels/extra $(cuda_lib_pins)
ls .wheels .wheels/extra
