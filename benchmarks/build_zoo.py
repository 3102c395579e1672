"""Build the model zoo: torchvision and transformers models (and a DLRM-style recommender)
with random weights, as ONNX.

Each model is built from its config (no pretrained weights: there is no network), its
weights re-initialised so that activations stay in a realistic range all the way to the
outputs, and exported twice: by the TorchScript exporter (`<model>.onnx`) and by the
dynamo exporter (`<model>.dynamo.onnx`, weights in `<model>.dynamo.onnx.data`). The
batch dimension (and the sequence length of text models) is symbolic, so importing a
zoo model exercises optc's `--shape` path and the folding of shape subgraphs.

`manifest.json` beside the files says, for each exported file, which shapes, dtypes and
values its inputs take (tests/test_zoo.py and the benchmarks read it), its opset, and
which exports failed and why. Files already present are kept (delete them or pass
`--force` to rebuild). Nothing is downloaded: weights are random, drawn from a fixed seed.

It needs torch, torchvision and transformers, which the project's own environment does
not carry; a separate environment keeps that one light (on Python 3.11, pip takes this
torch and torchvision from local disk):

    python3 -m venv /work/zoo-venv
    /work/zoo-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/zoo-venv/bin/pip install transformers onnx onnxscript onnxruntime -e .
    /work/zoo-venv/bin/python benchmarks/build_zoo.py          # everything, both exporters
    /work/zoo-venv/bin/python benchmarks/build_zoo.py --models resnet50 bert --exporters torchscript
    /work/zoo-venv/bin/python benchmarks/build_zoo.py --ops    # op types per file vs optc's importers

then, in the project's environment, `python -m pytest tests/test_zoo.py -s`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "zoo"
SEED = 0
EXPORT_BATCH = 2  # not 1: torch.export specialises a dimension of size 1 to a constant


def log(message: str) -> None:
    print(f"[zoo] {message}", file=sys.stderr, flush=True)


# --- what the zoo holds --------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """One model input: its shape at batch 1 (what tests use), its symbolic axes, and how
    to fill it with values the model accepts (`normal`, `ids` in [0, high), or `mask`:
    ones with the last quarter of each row zero, i.e. right padding)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    dynamic: dict[int, str]
    fill: str = "normal"
    high: int | None = None


@dataclass(frozen=True)
class ZooModel:
    name: str
    description: str
    build: Callable[[], object]
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    extra: dict = field(default_factory=dict)


def _image(name: str = "input") -> InputSpec:
    return InputSpec(name, (1, 3, 224, 224), "float32", {0: "batch"})


def _tokens(name: str, vocab: int, seq: int = 128) -> InputSpec:
    return InputSpec(name, (1, seq), "int64", {0: "batch", 1: "sequence"}, "ids", vocab)


def _mask(name: str = "attention_mask", seq: int = 128) -> InputSpec:
    return InputSpec(name, (1, seq), "int64", {0: "batch", 1: "sequence"}, "mask")


def build_resnet50():
    import torchvision

    return _calibrated_cnn(torchvision.models.resnet50(weights=None))


def build_mobilenet_v2():
    import torchvision

    return _calibrated_cnn(torchvision.models.mobilenet_v2(weights=None))


def build_bert():
    import torch
    from transformers import BertConfig, BertModel

    class Bert(torch.nn.Module):
        """BertModel returning a plain tuple, so the ONNX outputs have our names."""

        def __init__(self):
            super().__init__()
            self.bert = BertModel(_eager(BertConfig()))

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state, out.pooler_output

    return _reinitialised(Bert())


def build_gpt2():
    import torch
    from transformers import GPT2Config, GPT2Model

    class Gpt2(torch.nn.Module):
        """GPT-2 prefill: the whole prompt at once, no key/value cache in or out."""

        def __init__(self):
            super().__init__()
            self.gpt2 = GPT2Model(_eager(GPT2Config(use_cache=False)))

        def forward(self, input_ids, attention_mask):
            return self.gpt2(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state

    return _reinitialised(Gpt2())


def build_vit():
    import torch
    from transformers import ViTConfig, ViTModel

    class Vit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vit = ViTModel(_eager(ViTConfig()))

        def forward(self, pixel_values):
            out = self.vit(pixel_values=pixel_values)
            return out.last_hidden_state, out.pooler_output

    return _reinitialised(Vit())


RECOMMENDER_TABLES = 8  # embedding tables, one categorical feature each
RECOMMENDER_ROWS = 100_000  # rows per table
RECOMMENDER_DIM = 64  # embedding width
RECOMMENDER_BAG = 4  # ids per feature, summed (an embedding bag in "sum" mode)
RECOMMENDER_DENSE = 13  # continuous features (as in Criteo / DLRM)


def build_recommender():
    """A DLRM-style click model: each categorical feature is a bag of `RECOMMENDER_BAG` ids
    looked up in its own table and summed (an EmbeddingBag in sum mode, written as an
    embedding and a sum so that it exports as Gather + ReduceSum); the dense features go
    through a bottom MLP; everything is concatenated and a top MLP gives one logit."""
    import torch
    from torch import nn

    def mlp(widths: list[int]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class Recommender(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList(
                nn.Embedding(RECOMMENDER_ROWS, RECOMMENDER_DIM) for _ in range(RECOMMENDER_TABLES)
            )
            self.bottom = nn.Sequential(mlp([RECOMMENDER_DENSE, 512, 256, RECOMMENDER_DIM]), nn.ReLU())
            self.top = mlp([RECOMMENDER_DIM * (RECOMMENDER_TABLES + 1), 1024, 1024, 512, 256, 1])

        def forward(self, dense, sparse_ids):
            bags = [table(sparse_ids[:, t]).sum(dim=1) for t, table in enumerate(self.tables)]
            return self.top(torch.cat([self.bottom(dense), *bags], dim=1))

    return _recommender_weights(Recommender())


def _recommender_weights(model, seed: int = SEED):
    """He-normal matrices (std sqrt(2 / fan_in)) keep the ReLU MLPs' activations at unit
    scale through every layer, embeddings N(0, 1/bag) give each summed bag unit variance,
    and biases N(0, 0.1): the logits spread over a few units for random inputs instead of
    collapsing to a constant (which any importer that dropped a layer would still match)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=(2.0 / m.in_features) ** 0.5)
                nn.init.normal_(m.bias, std=0.1)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, std=RECOMMENDER_BAG**-0.5)
    return model.eval()


MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in [
        ZooModel("resnet50", "torchvision ResNet-50", build_resnet50, (_image(),), ("logits",)),
        ZooModel("mobilenet_v2", "torchvision MobileNetV2", build_mobilenet_v2, (_image(),), ("logits",)),
        ZooModel(
            "bert",
            "transformers BERT-base encoder (BertConfig()), seq 128",
            build_bert,
            (_tokens("input_ids", 30522), _mask(), _tokens("token_type_ids", 2)),
            ("last_hidden_state", "pooler_output"),
        ),
        ZooModel(
            "gpt2",
            "transformers GPT-2 small (GPT2Config()), prefill of 128 tokens, no cache",
            build_gpt2,
            (_tokens("input_ids", 50257), _mask()),
            ("last_hidden_state",),
        ),
        ZooModel(
            "vit",
            "transformers ViT-B/16 (ViTConfig()), 224x224",
            build_vit,
            (_image("pixel_values"),),
            ("last_hidden_state", "pooler_output"),
        ),
        ZooModel(
            "recommender",
            f"DLRM-style MLP recommender: {RECOMMENDER_TABLES} embedding bags of {RECOMMENDER_BAG} ids "
            f"({RECOMMENDER_ROWS}x{RECOMMENDER_DIM} tables, summed), bottom MLP 13-512-256-64, "
            "top MLP 576-1024-1024-512-256-1",
            build_recommender,
            (
                InputSpec("dense", (1, RECOMMENDER_DENSE), "float32", {0: "batch"}),
                InputSpec(
                    "sparse_ids", (1, RECOMMENDER_TABLES, RECOMMENDER_BAG), "int64", {0: "batch"}, "ids", RECOMMENDER_ROWS
                ),
            ),
            ("logit",),
        ),
    ]
}


# --- random weights that behave like trained ones ----------------------------------


def _eager(config):
    """Plain MatMul/Softmax attention. transformers' default (`sdpa`) builds its masks
    with code that the exporters handle less uniformly; eager is what both export alike."""
    config._attn_implementation = "eager"
    return config


def _reinitialised(model, seed: int = SEED):
    """BERT-style initialisation, with every parameter random: matrices and embeddings
    N(0, 0.02), biases N(0, 0.02), LayerNorm scales N(1, 0.05). Zero biases and unit
    scales (the libraries' defaults) would let an importer that drops them pass."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear | nn.Embedding) or type(m).__name__ == "Conv1D":
                nn.init.normal_(m.weight, std=0.02)
            elif isinstance(m, nn.LayerNorm):
                nn.init.normal_(m.weight, mean=1.0, std=0.05)
            if getattr(m, "bias", None) is not None and not isinstance(m, nn.Conv2d):
                nn.init.normal_(m.bias, std=0.02)
    return model.eval()


def _calibrated_cnn(model, seed: int = SEED):
    """A torchvision CNN as if trained: random BatchNorm scales and shifts, and running
    statistics measured on random images (train-mode passes with cumulative averaging),
    so every BatchNorm in eval mode normalises instead of passing activations through
    unchanged (running mean 0, var 1) or blowing them up."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.normal_(m.bias, std=0.1)
                m.reset_running_stats()
                m.momentum = None  # cumulative moving average over the calibration passes
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                nn.init.normal_(m.bias, std=0.02)
        model.train()
        for _ in range(2):
            model(torch.randn(8, 3, 224, 224))
    return model.eval()


# --- exporters -------------------------------------------------------------------


def example_args(spec: ZooModel, batch: int = EXPORT_BATCH) -> tuple:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    args = []
    for i in spec.inputs:
        shape = (batch, *i.shape[1:])
        if i.fill == "ids":
            args.append(torch.randint(0, i.high, shape, generator=generator))
        elif i.fill == "mask":
            mask = torch.ones(shape, dtype=torch.int64)
            mask[:, shape[1] * 3 // 4 :] = 0
            args.append(mask)
        else:
            args.append(torch.randn(shape, generator=generator))
    return tuple(args)


def export_torchscript(model, spec: ZooModel, path: Path, opset: int) -> None:
    import torch

    torch.onnx.export(
        model,
        example_args(spec),
        str(path),
        dynamo=False,
        input_names=[i.name for i in spec.inputs],
        output_names=list(spec.outputs),
        dynamic_axes={i.name: i.dynamic for i in spec.inputs} | {o: {0: "batch"} for o in spec.outputs},
        opset_version=opset,
        do_constant_folding=True,
    )


def export_dynamo(model, spec: ZooModel, path: Path, opset: int) -> None:
    import torch
    from torch.export import Dim

    bounds = {"batch": 1024, "sequence": 512}
    dims = {name: Dim(name, min=1, max=top) for name, top in bounds.items()}
    dynamic_shapes = tuple({axis: dims[sym] for axis, sym in i.dynamic.items()} for i in spec.inputs)
    torch.onnx.export(
        model,
        example_args(spec),
        str(path),
        dynamo=True,
        input_names=[i.name for i in spec.inputs],
        output_names=list(spec.outputs),
        dynamic_shapes=dynamic_shapes,
        opset_version=opset,
        external_data=True,
    )


@dataclass(frozen=True)
class Exporter:
    name: str
    suffix: str
    opset: int
    export: Callable[..., None]


EXPORTERS = {
    e.name: e
    for e in [
        Exporter("torchscript", ".onnx", 17, export_torchscript),
        Exporter("dynamo", ".dynamo.onnx", 18, export_dynamo),
    ]
}


def export_file(model, spec: ZooModel, exporter: Exporter, out: Path) -> list[str]:
    """Export into a scratch folder, then move the files in: an interrupted export never
    leaves a file that the cache would take for a finished one. Returns the file names."""
    name = spec.name + exporter.suffix
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as scratch:
        exporter.export(model, spec, Path(scratch) / name, exporter.opset)
        files = sorted(os.listdir(scratch))
        for f in files:
            os.replace(Path(scratch) / f, out / f)
    return files


# --- the manifest ---------------------------------------------------------------


def manifest_entry(spec: ZooModel, exporter: Exporter, out: Path) -> dict:
    import onnx

    name = spec.name + exporter.suffix
    proto = onnx.load(str(out / name), load_external_data=False)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    data = [f for f in os.listdir(out) if f.startswith(name + ".")]
    return {
        "model": spec.name,
        "description": spec.description,
        "exporter": exporter.name,
        "file": name,
        "data_files": sorted(data),
        "opset": opset,
        "inputs": [
            {k: v for k, v in asdict(i).items() if v is not None} | {"shape": list(i.shape)} for i in spec.inputs
        ],
        "outputs": [o.name for o in proto.graph.output],
    }


def read_manifest(out: Path) -> dict:
    path = out / "manifest.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"entries": [], "failures": []}


def write_manifest(out: Path, manifest: dict) -> None:
    import torch
    import transformers

    def key(e: dict) -> tuple[int, int]:
        order = lambda names, name: names.index(name) if name in names else len(names)  # noqa: E731
        return order(list(MODELS), e["model"]), order(list(EXPORTERS), e["exporter"])

    manifest["entries"].sort(key=key)
    manifest["failures"].sort(key=key)
    manifest["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    manifest["note"] = "written by benchmarks/build_zoo.py; input shapes are batch 1"
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out / "manifest.json")


def _replace(items: list[dict], model: str, exporter: str, new: dict | None) -> None:
    items[:] = [e for e in items if (e["model"], e["exporter"]) != (model, exporter)]
    if new is not None:
        items.append(new)


def _summary(e: Exception) -> str:
    """One line for the manifest. The dynamo exporter wraps the real error in a page of
    advice; its `## Exception summary` section holds the line worth keeping."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if "## Exception summary" in lines:
        after = lines[lines.index("## Exception summary") + 1 :]
        if after:
            return after[0]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


# --- building --------------------------------------------------------------------


def build(models: list[str], exporters: list[str], out: Path, force: bool) -> int:
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    failed = 0
    for name in models:
        spec = MODELS[name]
        todo = [EXPORTERS[e] for e in exporters if force or not (out / (name + EXPORTERS[e].suffix)).exists()]
        for e in exporters:
            if EXPORTERS[e] not in todo:
                log(f"{name} ({e}): cached, {out / (name + EXPORTERS[e].suffix)}")
                _replace(manifest["entries"], name, e, manifest_entry(spec, EXPORTERS[e], out))
                _replace(manifest["failures"], name, e, None)
        if not todo:
            continue
        start = time.perf_counter()
        log(f"{name}: building {spec.description} with random weights")
        torch.manual_seed(SEED)  # the libraries' own initialisers draw first: same weights every build
        model = spec.build()
        log(f"{name}: built in {time.perf_counter() - start:.1f} s")
        for exporter in todo:
            start = time.perf_counter()
            log(f"{name} ({exporter.name}): exporting, opset {exporter.opset}")
            try:
                files = export_file(model, spec, exporter, out)
            except Exception as e:  # one exporter failing must not stop the zoo
                failed += 1
                message = _summary(e)
                log(f"{name} ({exporter.name}): FAILED: {message}")
                log(traceback.format_exc(limit=-2))
                _replace(manifest["entries"], name, exporter.name, None)
                failure = {"model": name, "exporter": exporter.name, "error": message}
                _replace(manifest["failures"], name, exporter.name, failure)
                continue
            log(f"{name} ({exporter.name}): wrote {', '.join(files)} in {time.perf_counter() - start:.1f} s")
            _replace(manifest["entries"], name, exporter.name, manifest_entry(spec, exporter, out))
            _replace(manifest["failures"], name, exporter.name, None)
            write_manifest(out, manifest)
    write_manifest(out, manifest)
    entries, failures = len(manifest["entries"]), len(manifest["failures"])
    log(f"manifest: {out / 'manifest.json'} ({entries} files, {failures} failed exports)")
    return 1 if failed else 0


# --- op coverage -------------------------------------------------------------------


def op_report(out: Path) -> int:
    """Each zoo file's op types with counts, marking those optc does not import yet."""
    import onnx

    from compiler.onnx_import import frontend  # noqa: F401  (fills the importer table)
    from compiler.onnx_import.registry import IMPORTERS

    manifest = read_manifest(out)
    if not manifest["entries"]:
        log(f"no manifest in {out}: build the zoo first")
        return 1
    missing_all: collections.Counter[str] = collections.Counter()
    for entry in manifest["entries"]:
        proto = onnx.load(str(out / entry["file"]), load_external_data=False)
        counts = collections.Counter(
            n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in proto.graph.node
        )
        missing = sorted(op for op in counts if op not in IMPORTERS)
        missing_all.update(missing)
        ops = ", ".join(f"{op}{'*' if op in missing else ''} {n}" for op, n in sorted(counts.items()))
        print(f"{entry['model']} ({entry['exporter']}, opset {entry['opset']}): {sum(counts.values())} nodes")
        print(f"  ops: {ops}")
        print(f"  not in optc: {', '.join(missing) if missing else 'none'}")
    for failure in manifest["failures"]:
        print(f"{failure['model']} ({failure['exporter']}): export failed: {failure['error']}")
    missing = ", ".join(f"{op} {n}" for op, n in sorted(missing_all.items())) or "none"
    print(f"missing across the zoo (files using it): {missing}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="models to build (default: all)"
    )
    parser.add_argument(
        "--exporters", nargs="+", choices=list(EXPORTERS), default=list(EXPORTERS), help="exporters (default: both)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="export again even where a file exists")
    parser.add_argument(
        "--ops", action="store_true", help="print each file's op types and those optc lacks, then exit"
    )
    args = parser.parse_args(argv)
    if args.ops:
        return op_report(args.out)
    return build(args.models, args.exporters, args.out, args.force)


if __name__ == "__main__":
    sys.exit(main())
