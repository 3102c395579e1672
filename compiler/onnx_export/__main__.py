"""`python -m compiler.onnx_export MODEL -o OUT.onnx [--pipeline graph-optimize]`: import an
ONNX model (or read graph-level `.mlir` with its weights), optionally run a graph-level
pipeline, and write the result as ONNX. See docs/onnx-export.md."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from xdsl.dialects.builtin import ModuleOp

from compiler.errors import DEBUG_FLAG, DEBUG_HELP, handle
from dialects.errors import OptcError

COMMAND = "python -m compiler.onnx_export"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description="write an ONNX model of optc's graph-level IR")
    parser.add_argument("model", metavar="MODEL", help="an ONNX model, or graph-level IR (.mlir) with its weights file")
    parser.add_argument("-o", "--output", metavar="OUT.onnx", required=True, help="the ONNX file to write")
    parser.add_argument(
        "-p",
        "--pipeline",
        metavar="PIPELINE",
        default="",
        help="passes to run before writing, e.g. graph-optimize (graph-level only: the fused level has no ONNX form)",
    )
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS", help="fix an ONNX input's shape (repeatable)")
    parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
    return parser


def read(path: str, shapes: Sequence[str]) -> ModuleOp:
    """An ONNX model imported, or `.mlir` parsed with its weights (found beside it)."""
    if not path.endswith(".mlir"):
        from compiler.onnx_import import import_onnx, parse_shapes

        return import_onnx(path, parse_shapes(shapes))
    if shapes:
        raise OptcError("--shape fixes ONNX inputs; the shapes of .mlir are in its types")
    from xdsl.parser import Parser

    from dialects.registry import context
    from dialects.weights import store_of

    try:
        with open(path) as f:
            module = Parser(context(), f.read(), path).parse_module()
    except OSError as e:
        raise OptcError(f"cannot read '{path}': {e.strerror}") from None
    module.verify()
    store_of(module, os.path.dirname(path))
    return module


def run(args: argparse.Namespace) -> None:
    from compiler.onnx_export import export
    from compiler.pipelines import build
    from dialects.registry import context

    module = read(args.model, args.shape)
    ctx = context()
    for compiler_pass in build(args.pipeline):
        compiler_pass.apply(ctx, module)
    module.verify()
    model = export(module, args.output)
    print(f"wrote {args.output}: {len(model.graph.node)} nodes, opset {model.opset_import[0].version}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return handle(COMMAND, lambda: run(args), argv)


if __name__ == "__main__":
    sys.exit(main())
