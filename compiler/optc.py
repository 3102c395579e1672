"""`optc`: the opt tool of optc, built on xDSL's `xDSLOptMain`.

Reads `.mlir` or `.onnx` (with `--shape` for symbolic inputs), runs a pass pipeline with
verification after every pass, and prints IR. Weights never go into the text: with
`-o out.mlir` they are written beside it as `out.weights.npz`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass, PassPipeline
from xdsl.printer import Printer
from xdsl.universe import Universe
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from compiler.calibration.flags import add_calibration_arguments, calibration_options
from compiler.errors import DEBUG_FLAG, DEBUG_HELP, handle
from compiler.pipelines import LEVEL_ORDER, LEVELS, PIPELINES, PLANNED_LEVELS, PRECISIONS, build, with_precision
from dialects.errors import OptcError, blame, pass_failed
from dialects.registry import DIALECTS
from dialects.weights import WEIGHTS_ATTR, WeightStore, attach, store_of
from passes.registry import PASSES


class OptcMain(xDSLOptMain):
    _target = None
    """The GPU `--arch` names (a passes.codegen.target.Target), or None."""

    version_format = "optc 0.1.0 (xdsl {xdsl_version})"

    def __init__(self, args: Sequence[str] | None = None):
        super().__init__(description="optc: compile ONNX models and run passes over optc IR", args=args)

    # --- registration ----------------------------------------------------------

    def register_all_dialects(self):
        for name, factory in DIALECTS.items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self):
        for name, factory in PASSES.items():
            self.register_pass(name, factory)

    def register_all_targets(self):
        self.available_targets["mlir"] = Universe.get_multiverse().all_targets["mlir"]

        def cuda(module: ModuleOp, stream: IO[str]) -> None:
            from passes.codegen.cuda import print_cuda
            from passes.codegen.target import DEFAULT

            print_cuda(module, stream, self._target or DEFAULT)

        self.available_targets["cuda"] = cuda

    def register_all_frontends(self):
        super().register_all_frontends()
        parse_mlir = self.available_frontends["mlir"]

        def mlir_with_weights(io: IO[bytes]) -> ModuleOp:
            module = parse_mlir(io)
            _resolve_weights_path(module, os.path.dirname(self.get_input_name()))
            store_of(module)  # bind (and check) the weights file now, before any pass runs
            return module

        self.available_frontends["mlir"] = mlir_with_weights
        self.available_frontends["onnx"] = self._import_onnx

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0) -> ModuleOp | None:
        # mlir-opt verifies what it parsed before the first pass; so do we.
        module = super().parse_chunk(chunk, file_extension, start_offset)
        if module is not None and not self.args.disable_verify:
            module.verify()
        return module

    def _import_onnx(self, io: IO[bytes]) -> ModuleOp:
        from compiler.onnx_import import import_onnx, parse_shapes

        shapes = parse_shapes(self.args.shape)
        if self.args.input_file is not None:
            return import_onnx(self.args.input_file, shapes)
        import onnx
        from google.protobuf.message import DecodeError

        try:
            proto = onnx.load_model_from_string(io.read())
        except DecodeError as e:
            raise OptcError(f"standard input is not an ONNX model ({e})") from None
        return import_onnx(proto, shapes)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser):
        super().register_all_arguments(arg_parser)
        arg_parser.formatter_class = _HelpFormatter
        arg_parser.epilog = _PASS_LIST
        arg_parser.add_argument(
            "--shape",
            action="append",
            default=[],
            metavar="NAME=DIMS",
            help="fix an ONNX input's shape, e.g. --shape input=1x3x224x224 (repeatable)",
        )
        arg_parser.add_argument(
            "--compile-to",
            metavar="LEVEL",
            help=f"stop after a level ({', '.join(LEVELS)}{_planned()})",
        )
        arg_parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            help="compute in this precision: fp16/bf16 runs graph-convert-precision{precision=...} right after "
            "the pipeline's graph-level passes (f32 weights and tensors become f16/bf16, inputs and outputs keep "
            "their types through casts); int8 calibrates, inserts Q/DQ (quant-insert-qdq) and converts the rest "
            "to fp16 (docs/calibration.md); fp32 (the default) changes nothing",
        )
        add_calibration_arguments(arg_parser)
        arg_parser.add_argument(
            "--arch",
            metavar="ARCH",
            help="the GPU kernels are configured and generated for (sm_80, sm_90; default sm_90): "
            "configure-kernels and -t cuda use its Target (passes/codegen/target.py)",
        )
        arg_parser.add_argument(
            "--print-ir-after-all",
            action="store_true",
            help="print the IR after every pass (to stderr)",
        )
        arg_parser.add_argument(
            "--check-each-pass",
            action="store_true",
            help="run the IR in the reference interpreter before the pipeline and after every pass on the same "
            "seeded random inputs; stop at the first pass that changes an output beyond the tolerance, else print "
            "each pass's largest change (to stderr)",
        )
        arg_parser.add_argument(
            "--check-tolerance",
            type=float,
            metavar="R",
            help="tolerance of --check-each-pass: |after - before| <= R + R * |before| (default: optc-run's "
            "--compare tolerances for the precision the IR computes in; integer and bool outputs are exact)",
        )
        arg_parser.add_argument(
            "--check-seed",
            type=int,
            metavar="N",
            help="seed of --check-each-pass's random inputs (default 0)",
        )
        arg_parser.add_argument(
            "--fusion-report",
            action="store_true",
            help="after the pipeline, print ONNX nodes in and kernels out, per kind (to stderr)",
        )
        arg_parser.add_argument(
            "--list-onnx-ops",
            action="store_true",
            help="list the ONNX op types optc imports, then exit",
        )
        arg_parser.add_argument(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)

    # --- pipeline --------------------------------------------------------------

    def setup_pipeline(self):
        spec = self.args.passes
        if self.args.compile_to is not None:
            if spec:
                raise OptcError("give either -p or --compile-to, not both")
            spec = _level_pipeline(self.args.compile_to)
        self._target = _target(self.args.arch)
        precision = self.args.precision or "fp32"
        self._calibration = calibration_options(self.args, precision)
        self._spec = spec or ""
        # int8's pipeline names the calibration cache, which needs the model: built in apply_passes
        passes = build(with_precision(self._spec, precision), self._target) if precision != "int8" else ()
        self.pipeline = PassPipeline(passes, self._after_pass)
        self._checker = _checker(self.args)
        self._running: ModulePass | None = None  # the pass xDSL is applying, for errors that escape it

    def apply_passes(self, prog: ModuleOp) -> None:
        if self.args.precision == "int8":
            from compiler.calibration import int8_pipeline

            spec = int8_pipeline(prog, self._spec, self._calibration)
            self.pipeline = PassPipeline(build(spec, self._target), self._after_pass)
        with blame(lambda: self._running and pass_failed(self._running.name)):
            super().apply_passes(prog)

    def _after_pass(self, previous: ModulePass | None, module: ModuleOp, following: ModulePass | None):
        # xDSL calls this before the first pass, between passes and after the last one.
        import time

        self._running = None
        now = time.perf_counter()
        if previous is not None and self.args.time_passes:
            print(f"pass {previous.name}: {(now - self._pass_started) * 1000:.2f} ms", file=sys.stderr)
        if previous is not None and not self.args.disable_verify:
            try:
                module.verify()
            except DiagnosticException as e:
                e.add_note(f"the IR does not verify after pass '{previous.name}'")
                raise
        if previous is not None and self.args.print_ir_after_all:
            print(f"// -----// IR Dump After {previous.name} //----- //", file=sys.stderr)
            Printer(stream=sys.stderr).print_op(module)
            print(file=sys.stderr)
        if self._checker is not None:
            self._check(previous, module, following)
        self._pass_started = time.perf_counter()
        self._running = following

    def _check(self, previous: ModulePass | None, module: ModuleOp, following: ModulePass | None) -> None:
        if previous is None and following is not None:
            self._checker.start(module)
        if previous is not None:
            print(self._checker.after(previous, module), file=sys.stderr)
        if previous is not None and following is None:
            print(self._checker.summary(len(self.pipeline.passes)), file=sys.stderr)

    # --- output ----------------------------------------------------------------

    def output_resulting_program(self, prog: ModuleOp) -> str:
        if self.args.fusion_report:
            from compiler.report import fusion_report

            print(fusion_report(prog), file=sys.stderr)
        if self.args.output_file is not None:
            _save_weights_beside(prog, self.args.output_file)
        elif store_of(prog).unsaved:
            print(
                f"optc: note: {len(store_of(prog).unsaved)} weight(s) made by passes are not saved; "
                "use -o FILE to write them beside the IR",
                file=sys.stderr,
            )
        return super().output_resulting_program(prog)

    def run(self):
        if self.args.list_onnx_ops:
            from compiler.onnx_import.registry import IMPORTERS

            print("\n".join(sorted(IMPORTERS)))
            return
        super().run()


def _target(arch: str | None):
    """The Target `--arch` names, or None (configure-kernels' own option, sm_90 by default)."""
    if arch is None:
        return None
    from passes.codegen.target import named

    return named(arch)


def _checker(args: argparse.Namespace):
    """The --check-each-pass checker the arguments ask for, or None."""
    if not args.check_each_pass:
        if args.check_tolerance is not None or args.check_seed is not None:
            raise OptcError("--check-tolerance and --check-seed go with --check-each-pass")
        return None
    if args.check_tolerance is not None and not args.check_tolerance >= 0:
        raise OptcError(f"--check-tolerance must be a number >= 0, got {args.check_tolerance:g}")
    from compiler.check_each_pass import PassChecker

    return PassChecker(seed=args.check_seed or 0, tolerance=args.check_tolerance)


def _planned() -> str:
    """The levels that do not exist yet, for the help, when there are any."""
    return f"; later: {', '.join(PLANNED_LEVELS)}" if PLANNED_LEVELS else ""


def _level_pipeline(level: str) -> str:
    if level in LEVELS:
        return LEVELS[level]
    if level in PLANNED_LEVELS:
        raise OptcError(f"level '{level}' does not exist yet; optc compiles to: {', '.join(LEVELS)}")
    raise OptcError(f"unknown level '{level}' (levels: {', '.join(LEVEL_ORDER)})")


_PASS_LIST = "(every pass and pipeline)"
"""The help's epilog until `_HelpFormatter` prints it: listing the passes imports every one
of them, so it is built only when help is asked for and each `optc` run starts fast."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def add_text(self, text: str | None) -> None:
        super().add_text(_epilog() if text is _PASS_LIST else text)


def _epilog() -> str:
    lines = ["passes:"]
    for name, factory in sorted(PASSES.items()):
        doc = (factory().__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<28} {doc[0] if doc else ''}")
    lines.append("pipelines:")
    for name, spec in sorted(PIPELINES.items()):
        lines.append(f"  {name:<28} {spec}")
    return "\n".join(lines)


def _resolve_weights_path(module: ModuleOp, base_dir: str) -> None:
    """Make a relative `optc.weights` path absolute, relative to the IR file it came from."""
    attr = module.attributes.get(WEIGHTS_ATTR)
    if isinstance(attr, StringAttr) and not os.path.isabs(attr.data):
        module.attributes[WEIGHTS_ATTR] = StringAttr(os.path.normpath(os.path.join(base_dir, attr.data)))


def _save_weights_beside(module: ModuleOp, output_file: str) -> None:
    """Write the weights the IR names to `<output>.weights.npz` and point the module at it."""
    from dialects.graph import WeightOp

    store = store_of(module)
    names = {op.sym.data for op in module.walk() if isinstance(op, WeightOp)}
    if not names:
        return
    stem = output_file[: -len(".mlir")] if output_file.endswith(".mlir") else output_file
    path = stem + ".weights.npz"
    saved = WeightStore(store.source, dict(store.arrays))
    saved.save(path, names)
    attach(module, saved)
    module.attributes[WEIGHTS_ATTR] = StringAttr(os.path.basename(path))


def main(argv: Sequence[str] | None = None) -> int:
    return handle("optc", lambda: OptcMain(args=argv).run(), argv)


if __name__ == "__main__":
    sys.exit(main())
