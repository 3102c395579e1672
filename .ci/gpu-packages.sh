# Sourced by .ci/gpu-wheels.sh and tests/run_gpu.sh: the packages the GPU machine gets from
# .wheels/, pinned as requirements.lock pins them (its image brings torch and the rest), and
# from .wheels/extra/ the `cuda-libs` extra (nvmath-python: cuBLASLt tactics; nvidia-cudnn-frontend:
# cuDNN tactics) as pyproject.toml pins it.
GPU_PACKAGES="xdsl filecheck lit immutabledict ordered-set onnxruntime onnx ml-dtypes tqdm"

gpu_pins() {  # name==version for each of GPU_PACKAGES, from the lock
    local name pin
    for name in $GPU_PACKAGES; do
        pin=$(grep -E "^$name==" requirements.lock | sed 's/ .*//')
        [ -n "$pin" ] || { echo "gpu-packages: $name is not in requirements.lock" >&2; return 1; }
        echo "$pin"
    done
}

cuda_lib_pins() {  # the `cuda-libs` extra of pyproject.toml (exact pins; not in the lock)
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["cuda-libs"]))'
}
