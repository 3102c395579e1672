#!/usr/bin/env bash
# GPU tests and benchmarks on a machine with an NVIDIA GPU, in stages that each fit a
# 10-minute call of the device tool; every log goes to $OUT (default: out/).
#
#   bash tests/run_gpu.sh tests        # every `gpu` test but the node tests and the zoo
#   bash tests/run_gpu.sh node         # the ONNX backend node tests through GPU engines
#   bash tests/run_gpu.sh zoo          # build the zoo (torch needed) and run it on the GPU
#   bash tests/run_gpu.sh bench        # the kernel benchmark scripts
#   bash tests/run_gpu.sh side         # the side-by-side model benchmark (optc vs PyTorch, torch.compile)
#   bash tests/run_gpu.sh matmuls      # every matmul of the zoo's transformers, tuned, against cuBLAS
#   bash tests/run_gpu.sh tests node   # several stages, in order
#
# Where .wheels/ holds them (`bash .ci/gpu-wheels.sh` fetches them), the packages of
# .ci/gpu-packages.sh are installed first at the versions requirements.lock pins (what the
# device image lacks, and what must match CPU CI's), with the `cuda-libs` extra from
# .wheels/extra/ (nvmath-python and nvidia-cudnn-frontend, so cuBLASLt and cuDNN tactics
# are tuned and tested), without
# touching other packages; a pinned wheel missing from .wheels/ stops the run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
mkdir -p "$OUT"
if [ -d .wheels ]; then
    . .ci/gpu-packages.sh
    # shellcheck disable=SC2046
    python3 -m pip install -q --no-deps --no-index --find-links .wheels --find-links .wheels/extra $(gpu_pins) $(cuda_lib_pins) 2>&1 | grep -v "^WARNING"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "run_gpu: installing the pinned wheels from .wheels failed"; exit 2; }
fi
export PYTHONPATH=$PWD OPTC_REQUIRE_GPU=1
pytest=(python3 -m pytest -q -rfE -p no:cacheprovider --continue-on-collection-errors)
status=0
for stage in "$@"; do
    started=$SECONDS
    case "$stage" in
        tests) "${pytest[@]}" -m "gpu and not zoo" --ignore=tests/test_onnx_backend_gpu.py tests/ >"$OUT/gpu-tests.log" 2>&1 ;;
        node) "${pytest[@]}" tests/test_onnx_backend_gpu.py -s >"$OUT/gpu-node-tests.log" 2>&1 ;;
        zoo)
            # ZOO_EXPORTERS=torchscript builds only the faster exporter's files
            [ -f benchmarks/zoo/manifest.json ] || python3 benchmarks/build_zoo.py --exporters ${ZOO_EXPORTERS:-torchscript dynamo} >"$OUT/build-zoo.log" 2>&1
            "${pytest[@]}" -s -m "zoo and gpu" tests/test_zoo_gpu.py >"$OUT/gpu-zoo.log" 2>&1 ;;
        bench)
            for script in copy_bandwidth pointwise_bandwidth reduction_bandwidth matmul_throughput conv_throughput attention_throughput; do
                flags=()
                case "$script" in conv_throughput | attention_throughput) flags=(--cudnn) ;; esac  # the cudnn tactic beside optc's and torch
                [ -f "benchmarks/$script.py" ] && python3 "benchmarks/$script.py" "${flags[@]}" >"$OUT/$script.log" 2>&1
            done ;;
        matmuls)
            [ -f benchmarks/zoo/manifest.json ] || python3 benchmarks/build_zoo.py --exporters torchscript >"$OUT/build-zoo.log" 2>&1
            code=0
            for model in bert gpt2 vit recommender; do
                python3 benchmarks/model_matmuls.py "benchmarks/zoo/$model.onnx" --json "$OUT/matmuls-$model.json" >"$OUT/matmuls-$model.log" 2>&1 || code=1
            done
            (exit $code) ;;
        side) python3 benchmarks/side_by_side.py --json "$OUT/side_by_side.json" --png "$OUT/side_by_side.png" >"$OUT/side_by_side.log" 2>&1 ;;
        *) echo "unknown stage '$stage' (tests, node, zoo, bench, side, matmuls)"; exit 2 ;;
    esac
    code=$?
    echo "== $stage: exit $code in $((SECONDS - started)) s"
    [ "$code" -eq 0 ] || status=1
done
exit $status
