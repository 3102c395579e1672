"""Kernel counts of the bundled examples and the model zoo: how many launches each model
becomes at the fused level (`optc MODEL -p fused --fusion-report`), at fp32 and fp16.

    python benchmarks/kernel_counts.py                     # examples/*.onnx, and the zoo where built
    python benchmarks/kernel_counts.py --json counts.json  # also write them for machines
    PYTHONPATH=OLD_CHECKOUT python benchmarks/kernel_counts.py   # the same models through another optc

The last form is how a change's before/after is measured: the script only uses
`import_onnx`, `pipelines.build`, `with_precision` and `report.kernel_counts`, which every
optc since the engine has. Zoo models are imported at the shapes of their manifest entry
(benchmarks/zoo/manifest.json, written by build_zoo.py); only the TorchScript exports are
counted (the dynamo exports fuse to the same kernels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xdsl.context import Context

from compiler.onnx_import import import_onnx
from compiler.pipelines import build, with_precision
from compiler.report import kernel_counts

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "benchmarks" / "zoo"
PRECISIONS = ("fp32", "fp16")


def models() -> list[tuple[str, Path, dict[str, list[int]]]]:
    """(name, file, input shapes) of every example and every TorchScript zoo export."""
    found = [(path.stem, path, {}) for path in sorted((ROOT / "examples").glob("*.onnx"))]
    manifest = ZOO / "manifest.json"
    if manifest.exists():
        for entry in json.loads(manifest.read_text())["entries"]:
            if entry["exporter"] == "torchscript":
                shapes = {i["name"]: i["shape"] for i in entry["inputs"]}
                found.append((entry["model"], ZOO / entry["file"], shapes))
    return found


def count(path: Path, shapes: dict[str, list[int]], precision: str) -> dict[str, int]:
    module = import_onnx(str(path), shapes)
    for compiler_pass in build(with_precision("fused", precision)):
        compiler_pass.apply(Context(), module)
    return dict(kernel_counts(module))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write {model: {precision: {op: count}}} here")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, int]]] = {}
    print(f"{'model':<16} " + " ".join(f"{p:>6}" for p in PRECISIONS))
    for name, path, shapes in models():
        results[name] = {p: count(path, shapes, p) for p in PRECISIONS}
        totals = " ".join(f"{sum(results[name][p].values()):>6}" for p in PRECISIONS)
        print(f"{name:<16} {totals}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
