"""`optc-quantize MODEL.onnx --calibration-data DATA -o MODEL.qdq.onnx`: calibrate a float
model and write it as a standard QDQ ONNX model (QuantizeLinear/DequantizeLinear in front of
the conv/matmul/gemm inputs and residual adds that `--precision int8` quantizes, i8 weights per
output channel), which onnxruntime, TensorRT or optc itself run.

It is `--precision int8`'s front half (`compiler/calibration`: `graph-optimize`, calibration,
`quant-insert-qdq`) followed by the ONNX writer (`compiler/onnx_export`). The float parts stay
fp32: the consumer of a QDQ model chooses its float precision (optc's own fp16 conversion is
not written out). The graph written is the optimised one: BatchNorm folded into the weights
before they are quantized, as the int8 engine computes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from compiler.calibration import split_at_insertion
from compiler.calibration.flags import add_calibration_arguments, calibration_options
from compiler.errors import DEBUG_FLAG, DEBUG_HELP, handle
from dialects.errors import OptcError

COMMAND = "optc-quantize"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description="calibrate an ONNX model and write it as a QDQ ONNX model")
    parser.add_argument("model", metavar="MODEL.onnx", help="the float ONNX model")
    parser.add_argument("-o", "--output", metavar="OUT.onnx", required=True, help="the QDQ ONNX model to write")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS", help="fix an ONNX input's shape (repeatable)")
    add_calibration_arguments(parser)
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
    return parser


def qdq_pipeline(pipeline: str) -> str:
    """`--precision int8`'s pipeline up to and including the Q/DQ insertion: what a QDQ
    model holds (the fp16 conversion after it is the engine's choice, not the model's)."""
    before, insertion, _ = split_at_insertion(pipeline)
    return f"{before},{insertion}" if before else insertion


def run(args: argparse.Namespace) -> None:
    from compiler.calibration import int8_pipeline
    from compiler.onnx_export import export
    from compiler.onnx_import import import_onnx, parse_shapes
    from compiler.pipelines import build
    from dialects.registry import context
    from passes.quant.insert_qdq import holds_quant_ops

    options = calibration_options(args, "int8")
    if not args.model.endswith(".onnx"):
        raise OptcError(f"{COMMAND} reads an ONNX model (.onnx), got '{args.model}'")
    module = import_onnx(args.model, parse_shapes(args.shape))
    if holds_quant_ops(module):
        raise OptcError(f"'{args.model}' is quantized already (it holds QuantizeLinear/DequantizeLinear): nothing to calibrate")
    pipeline = qdq_pipeline(int8_pipeline(module, "graph", options))
    ctx = context()
    for compiler_pass in build(pipeline):
        compiler_pass.apply(ctx, module)
    module.verify()
    model = export(module, args.output)
    quantized = sum(node.op_type == "QuantizeLinear" for node in model.graph.node)
    print(f"wrote {args.output}: {len(model.graph.node)} nodes, {quantized} activations quantized, opset {model.opset_import[0].version}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return handle(COMMAND, lambda: run(args), argv)


if __name__ == "__main__":
    sys.exit(main())
