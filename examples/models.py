"""The bundled example models, built with `onnx.helper` and seeded random weights.

    python examples/models.py [--out-dir DIR]     # writes cnn.onnx and transformer.onnx

- `cnn`: a small ResNet-style image classifier: Conv+BatchNormalization+Relu, a residual
  block, MaxPool, a strided conv, GlobalAveragePool, Flatten and a Gemm classifier.
- `transformer`: one pre-LayerNorm encoder block: LayerNormalization, Q/K/V projections
  (MatMul+Add), the head split (Reshape+Transpose), scaled dot-product attention with an
  additive causal mask and Softmax, the output projection, and an MLP with the erf form of
  Gelu (Div, Erf, Add, Mul) as exporters write it; residual Adds around both halves.

Weights are drawn so activations keep a sensible scale (He/Xavier-like), which keeps the
outputs far from degenerate and the comparison with onnxruntime meaningful. The same seed
gives byte-identical files, so the committed models can be checked against this script.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is an ONNX op from opset 17
HERE = os.path.dirname(os.path.abspath(__file__))


class Builder:
    """Accumulates nodes and initializers; names values `<prefix>.<n>` so graphs read well."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def weight(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def normal(self, name: str, shape: Sequence[int], std: float) -> str:
        return self.weight(name, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def op(self, op_type: str, inputs: Sequence[str], name: str, output: str | None = None, **attrs) -> str:
        """One single-output node (output `<name>.out` unless named); returns the output's name."""
        output = output or f"{name}.out"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=name, **attrs))
        return output

    def model(self, name: str, inputs, outputs, doc: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="optc-examples")
        onnx.checker.check_model(model, full_check=True)
        return model


# --- the CNN --------------------------------------------------------------------------


def _conv_bn(b: Builder, x: str, name: str, cin: int, cout: int, stride: int = 1, relu: bool = True) -> str:
    """3x3 convolution (He init) + batch norm with non-trivial statistics (+ Relu)."""
    w = b.normal(f"{name}.weight", (cout, cin, 3, 3), math.sqrt(2.0 / (cin * 9)))
    y = b.op("Conv", [x, w], f"{name}.conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])
    stats = [
        b.weight(f"{name}.bn.scale", (1.0 + 0.1 * b.rng.standard_normal(cout)).astype(np.float32)),
        b.weight(f"{name}.bn.bias", (0.1 * b.rng.standard_normal(cout)).astype(np.float32)),
        b.weight(f"{name}.bn.mean", (0.1 * b.rng.standard_normal(cout)).astype(np.float32)),
        b.weight(f"{name}.bn.var", b.rng.uniform(0.5, 1.5, cout).astype(np.float32)),
    ]
    y = b.op("BatchNormalization", [y, *stats], f"{name}.bn", epsilon=1e-5)
    return b.op("Relu", [y], f"{name}.relu") if relu else y


def cnn(batch: int = 1, size: int = 32, classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    b = Builder(seed)
    x = _conv_bn(b, "input", "stem", 3, 16)
    # residual block: relu(x + bn(conv(relu(bn(conv(x))))))
    y = _conv_bn(b, x, "block1.a", 16, 16)
    y = _conv_bn(b, y, "block1.b", 16, 16, relu=False)
    x = b.op("Relu", [b.op("Add", [x, y], "block1.add")], "block1.relu")
    x = b.op("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
    x = _conv_bn(b, x, "down", 16, 32, stride=2)
    x = b.op("GlobalAveragePool", [x], "gap")
    x = b.op("Flatten", [x], "flatten", axis=1)
    w = b.normal("fc.weight", (classes, 32), math.sqrt(1.0 / 32))
    bias = b.normal("fc.bias", (classes,), 0.1)
    b.op("Gemm", [x, w, bias], "fc", output="logits", transB=1)
    return b.model(
        "cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])],
        "a small ResNet-style classifier (conv/BN/relu, residual add, max pool, global average pool, gemm)",
    )


# --- the transformer block ------------------------------------------------------------


def _linear(b: Builder, x: str, name: str, din: int, dout: int) -> str:
    """x @ W + bias, as exporters write a Linear layer on a 3-d input."""
    w = b.normal(f"{name}.weight", (din, dout), math.sqrt(1.0 / din))
    bias = b.normal(f"{name}.bias", (dout,), 0.02)
    return b.op("Add", [b.op("MatMul", [x, w], f"{name}.matmul"), bias], f"{name}.add")


def _layer_norm(b: Builder, x: str, name: str, dim: int) -> str:
    scale = b.weight(f"{name}.scale", (1.0 + 0.1 * b.rng.standard_normal(dim)).astype(np.float32))
    bias = b.weight(f"{name}.bias", (0.1 * b.rng.standard_normal(dim)).astype(np.float32))
    return b.op("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=1e-5)


def _gelu(b: Builder, x: str, name: str) -> str:
    """0.5 * x * (1 + erf(x / sqrt(2))), node by node as torch.onnx exports nn.GELU."""
    sqrt2 = b.weight(f"{name}.sqrt2", np.array(math.sqrt(2.0), np.float32))
    one = b.weight(f"{name}.one", np.array(1.0, np.float32))
    half = b.weight(f"{name}.half", np.array(0.5, np.float32))
    erf = b.op("Erf", [b.op("Div", [x, sqrt2], f"{name}.div")], f"{name}.erf")
    y = b.op("Mul", [x, b.op("Add", [erf, one], f"{name}.add")], f"{name}.mul")
    return b.op("Mul", [y, half], f"{name}.half_mul")


def _attention(b: Builder, x: str, seq: int, dim: int, heads: int) -> str:
    head_dim = dim // heads
    split = b.weight("attn.split_shape", np.array([0, 0, heads, head_dim], np.int64))
    merge = b.weight("attn.merge_shape", np.array([0, 0, dim], np.int64))

    def heads_of(name: str, perm: list[int]) -> str:
        y = b.op("Reshape", [_linear(b, x, f"attn.{name}", dim, dim), split], f"attn.{name}.split")
        return b.op("Transpose", [y], f"attn.{name}.transpose", perm=perm)

    q = heads_of("q", [0, 2, 1, 3])  # [B, H, S, Dh]
    k = heads_of("k", [0, 2, 3, 1])  # [B, H, Dh, S]
    v = heads_of("v", [0, 2, 1, 3])
    scale = b.weight("attn.scale", np.array(math.sqrt(head_dim), np.float32))
    causal = np.triu(np.full((seq, seq), -1e4, np.float32), k=1)  # additive: -1e4 above the diagonal
    mask = b.weight("attn.mask", causal)
    scores = b.op("Div", [b.op("MatMul", [q, k], "attn.scores"), scale], "attn.scaled")
    probs = b.op("Softmax", [b.op("Add", [scores, mask], "attn.masked")], "attn.softmax", axis=-1)
    context = b.op("Transpose", [b.op("MatMul", [probs, v], "attn.context")], "attn.merge.transpose", perm=[0, 2, 1, 3])
    context = b.op("Reshape", [context, merge], "attn.merge")
    return _linear(b, context, "attn.out", dim, dim)


def transformer(batch: int = 1, seq: int = 16, dim: int = 64, heads: int = 4, seed: int = 0) -> onnx.ModelProto:
    b = Builder(seed)
    h = b.op("Add", ["hidden", _attention(b, _layer_norm(b, "hidden", "ln1", dim), seq, dim, heads)], "residual1")
    y = _linear(b, _layer_norm(b, h, "ln2", dim), "mlp.up", dim, 4 * dim)
    y = _linear(b, _gelu(b, y, "mlp.gelu"), "mlp.down", 4 * dim, dim)
    b.op("Add", [h, y], "residual2", output="output")
    return b.model(
        "transformer",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [batch, seq, dim])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, seq, dim])],
        "one pre-LayerNorm transformer encoder block with causal self-attention and a Gelu MLP",
    )


MODELS = {"cnn": cnn, "transformer": transformer}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the bundled example models.")
    parser.add_argument("--out-dir", default=HERE, help="where to write <name>.onnx (default: examples/)")
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    for name, build in MODELS.items():
        path = os.path.join(args.out_dir, f"{name}.onnx")
        onnx.save(build(), path)
        print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
