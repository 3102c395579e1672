"""How long INT8 calibration of ResNet-50 takes on the CPU reference (issue 12: <= 60 s for
64 samples).

The model is the zoo's ResNet-50 (torchvision's, random weights; `benchmarks/build_zoo.py`)
when `benchmarks/zoo/resnet50.onnx` exists; otherwise the same architecture written with
onnx.helper (torch is not needed): the bottleneck stages [3, 4, 6, 3], BatchNorm after
every conv (graph-optimize folds it, as it folds the exported model's), He-initialised
weights and each block's last BatchNorm scaled by 0.2 so activations stay in range through
the 16 residual adds. Samples are seeded standard-normal images at batch 1.

    python benchmarks/calibration_time.py [--samples 64] [--method entropy] [--model FILE.onnx]

prints the import's time and the whole `int8_pipeline` call's (what `optc --precision int8
--calibration-data` adds: graph-optimize on the copy calibration runs, the reference
interpreter over the samples with the histograms, the method), wall and CPU time, and the
load average: on a shared machine the wall time follows the load. `--profile` prints
cProfile's top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ZOO_RESNET = Path(__file__).resolve().parent / "zoo" / "resnet50.onnx"
SEED = 0
TARGET_S = 60.0


class _Builder:
    """ResNet-50 nodes and initializers, named as torchvision's export names its layers."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def _param(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(self, x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1, relu: bool = True, gamma: float = 1.0) -> str:
        w = self.rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / (c_in * k * k))
        pad = k // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, self._param(f"{name}.weight", w)], [f"{name}.conv"],
            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
        ))
        bn = [self._param(f"{name}.bn.{p}", v) for p, v in (
            ("weight", np.full(c_out, gamma)), ("bias", self.rng.standard_normal(c_out) * 0.05),
            ("running_mean", np.zeros(c_out)), ("running_var", np.ones(c_out)),
        )]
        self.nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv", *bn], [f"{name}.bn"]))
        if not relu:
            return f"{name}.bn"
        self.nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.relu"]))
        return f"{name}.relu"

    def bottleneck(self, x: str, name: str, c_in: int, width: int, stride: int) -> str:
        out = width * 4
        y = self.conv_bn(x, f"{name}.conv1", c_in, width, 1)
        y = self.conv_bn(y, f"{name}.conv2", width, width, 3, stride)
        y = self.conv_bn(y, f"{name}.conv3", width, out, 1, relu=False, gamma=0.2)
        shortcut = x if stride == 1 and c_in == out else self.conv_bn(x, f"{name}.downsample", c_in, out, 1, stride, relu=False)
        self.nodes.append(helper.make_node("Add", [y, shortcut], [f"{name}.add"]))
        self.nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"]))
        return f"{name}.out"


def resnet50(seed: int = SEED) -> onnx.ModelProto:
    """ResNet-50 (batch 1, 224x224) with onnx.helper: see the module docstring."""
    b = _Builder(seed)
    x = b.conv_bn("input", "conv1", 3, 64, 7, 2)
    b.nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, c_in = "pool", 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 0 else 1
            x = b.bottleneck(x, f"layer{stage + 1}.{block}", c_in, width, stride)
            c_in = width * 4
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    fc_w = b._param("fc.weight", b.rng.standard_normal((1000, 2048)) * np.sqrt(1.0 / 2048))
    fc_b = b._param("fc.bias", np.zeros(1000))
    b.nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], transB=1))
    graph = helper.make_graph(
        b.nodes, "resnet50",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        b.inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _model(path: str | None) -> tuple[onnx.ModelProto | str, str]:
    if path:
        return path, path
    if ZOO_RESNET.exists():
        return str(ZOO_RESNET), f"{ZOO_RESNET} (torchvision, the zoo)"
    return resnet50(), "ResNet-50 built with onnx.helper (benchmarks/zoo/resnet50.onnx absent: torch not installed)"


def measure(samples: int, method: str, model_path: str | None, profile: bool) -> dict[str, float]:
    from compiler.calibration import CalibrationOptions, int8_pipeline
    from compiler.onnx_import import import_onnx
    from runtime.reference.inputs import input_types

    model, described = _model(model_path)
    print(f"model: {described}")
    started = time.perf_counter()
    module = import_onnx(model, {"input": [1, 3, 224, 224]} if isinstance(model, str) else None)
    imported = time.perf_counter()
    (name, t), = input_types(module).items()
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "samples.npz")
        np.savez(data, **{name: rng.standard_normal((samples, *t.get_shape())).astype(np.float32)})
        options = CalibrationOptions(data=data, method=method, cache=os.path.join(folder, "cache.json"))
        profiler = cProfile.Profile() if profile else None
        begun, cpu_begun = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        int8_pipeline(module, "graph", options)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        done, cpu_done = time.perf_counter(), time.process_time()
    return {"import_s": imported - started, "calibration_s": done - begun, "cpu_s": cpu_done - cpu_begun}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--method", default="entropy")
    parser.add_argument("--model", help="an ONNX ResNet-50 (default: the zoo's, else built here)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 25 (cumulative)")
    args = parser.parse_args(argv)
    times = measure(args.samples, args.method, args.model, args.profile)
    print(f"import: {times['import_s']:.1f} s")
    print(
        f"calibration ({args.samples} samples, {args.method}, graph-optimize + reference runs + method): "
        f"{times['calibration_s']:.1f} s wall, {times['cpu_s']:.1f} s CPU (all threads), load average {os.getloadavg()[0]:.1f}"
    )
    print(f"target <= {TARGET_S:.0f} s: {'met' if times['calibration_s'] <= TARGET_S else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
