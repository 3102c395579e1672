#!/usr/bin/env bash
# Quick start: build the environment, then compile a bundled example model with optc, run
# it with the reference interpreter and compare it with onnxruntime; where an NVIDIA GPU
# answers, also build it into an engine, run it on the GPU and compare.
#
#   bash examples/quickstart.sh                # both examples: cnn and transformer
#   bash examples/quickstart.sh transformer    # one of them
#
# What it runs, for each model (results under build/quickstart/):
#   optc examples/M.onnx -p default --fusion-report -o build/quickstart/M.mlir   # import + compile to the fused level
#   optc-run build/quickstart/M.mlir --onnx examples/M.onnx --compare onnxruntime --output ...
#   optc-run examples/M.onnx --device cuda --compare onnxruntime --save-engine build/quickstart/M.engine   # with a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/env.sh || exit 1

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(cnn transformer)
out=build/quickstart
mkdir -p "$out"
for model in "${models[@]}"; do
    if [ ! -f "examples/$model.onnx" ]; then
        echo "quickstart: no example 'examples/$model.onnx' (try cnn or transformer)" >&2
        exit 1
    fi
    echo "== $model: import and compile (optc examples/$model.onnx -p default --fusion-report -o $out/$model.mlir)"
    optc "examples/$model.onnx" -p default --fusion-report -o "$out/$model.mlir" 2>&1
    echo "IR in $out/$model.mlir, weights in $out/$model.weights.npz"
    echo "== $model: run and compare with onnxruntime"
    optc-run "$out/$model.mlir" --onnx "examples/$model.onnx" --compare onnxruntime --output "$out/$model.out.npz"
    if nvidia-smi -L >/dev/null 2>&1; then
        echo "== $model: build an engine, run it on the GPU and compare with onnxruntime"
        optc-run "examples/$model.onnx" --device cuda --compare onnxruntime --repeat 20 --save-engine "$out/$model.engine"
    fi
    echo
done
echo "quickstart: done; IR, weights and outputs are in $out/"
