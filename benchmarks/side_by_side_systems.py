"""The systems the side-by-side benchmark runs, behind one small interface.

A *session* holds one model; for a batch it gives the model's cost (FLOPs, weight bytes)
and a *runner* per system. A runner is a call (asynchronous on the GPU), the `clock` that
times calls on the stream they run on, `outputs()` (numpy, by output name, after waiting)
and `close()`; `build_s` is set where building is part of the system (optc's engine).

- `TorchSession` (GPU): the zoo's ONNX file (exported once from build_zoo's builders if
  missing) built into an optc engine and replayed as its CUDA graph; the same PyTorch
  model (same builder, same seed, so the same weights the ONNX holds) in eager mode,
  `torch.compile` and `torch.compile(mode="reduce-overhead")`, all at the run's precision.
- `ReferenceSession` (CPU, for tests and dry runs): any ONNX file; optc lowered to the
  kernel level and run by the reference interpreter, onnxruntime as "eager"; the
  torch.compile systems report that they need torch.

The model's cost (FLOPs, weight bytes) is side_by_side_cost.py's. torch is imported
lazily: this module imports on a machine without it.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(Path(__file__).resolve().parent)) if p not in sys.path]

from side_by_side_cost import model_cost  # noqa: E402
from side_by_side_report import OPTC, Ceilings, WallClock, measure, median  # noqa: E402

THROUGHPUT_BATCH = {"resnet50": 32, "mobilenet_v2": 32, "vit": 32, "bert": 8, "gpt2": 8, "recommender": 256}
CHANNELS_LAST = {"resnet50", "mobilenet_v2"}  # eager/compile convs run NHWC, as cuDNN prefers in fp16
TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


class SystemUnavailable(Exception):
    """A system that cannot run in this session (no torch, no GPU): reported, not raised."""


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A model input at batch 1 (the zoo's InputSpec, or a manifest entry's input)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    fill: str = "normal"
    high: int | None = None

    @staticmethod
    def of(spec) -> Input:
        get = spec.get if isinstance(spec, dict) else lambda k, d=None: getattr(spec, k, d)
        return Input(get("name"), tuple(get("shape")), get("dtype"), get("fill", "normal") or "normal", get("high"))


def make_inputs(inputs: list[Input], batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Values the model accepts at `batch`: ids below `high`, right-padded masks, normals."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for spec in inputs:
        shape = (batch, *spec.shape[1:])
        if spec.fill == "ids":
            array = rng.integers(0, spec.high, shape)
        elif spec.fill == "mask":
            array = np.ones(shape)
            array[..., shape[-1] * 3 // 4 :] = 0
        else:
            array = rng.standard_normal(shape)
        arrays[spec.name] = array.astype(spec.dtype)
    return arrays


# --- the CPU session: reference interpreter and onnxruntime -------------------------------------------


class _HostRunner:
    """A synchronous call timed by the wall clock."""

    clock = WallClock()
    build_s: float | None = None

    def __init__(self, run):
        self._run = run
        self._last: dict[str, np.ndarray] = {}

    def __call__(self) -> None:
        self._last = self._run()

    def outputs(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float32) for k, v in self._last.items()}

    def close(self) -> None:
        self._last = {}


class ReferenceSession:
    """optc through the reference interpreter (the module lowered to the kernel level, as
    the engine would run it, minus CUDA) and onnxruntime as the eager rival, on the CPU."""

    def __init__(self, path: Path, inputs: list[Input], precision: str = "fp16"):
        self.path, self.inputs, self.precision = Path(path), inputs, precision

    def _shapes(self, batch: int) -> dict[str, list[int]]:
        return {i.name: [batch, *i.shape[1:]] for i in self.inputs}

    def cost(self, batch: int) -> tuple[float, float]:
        from compiler.onnx_import import import_onnx

        return model_cost(import_onnx(str(self.path), self._shapes(batch)), self.precision)

    def runner(self, system: str, batch: int):
        feeds = make_inputs(self.inputs, batch)
        if system == OPTC:
            return self._optc(batch, feeds)
        if system == "eager":
            import onnxruntime as ort

            session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
            names = [o.name for o in session.get_outputs()]
            return _HostRunner(lambda: dict(zip(names, session.run(names, feeds))))
        raise SystemUnavailable(f"{system} needs torch and a GPU (this is the CPU reference session)")

    def _optc(self, batch: int, feeds):
        from compiler.engine_build import kernel_pipeline
        from compiler.onnx_import import import_onnx
        from runtime.reference import run
        from tests.support import apply_pipeline

        start = time.perf_counter()
        module = apply_pipeline(import_onnx(str(self.path), self._shapes(batch)), kernel_pipeline(self.precision))
        runner = _HostRunner(lambda: run(module, feeds))
        runner.build_s = time.perf_counter() - start
        return runner

    def close(self) -> None:
        pass


# --- the GPU session: optc engines and PyTorch ------------------------------------------------------


class TorchClock:
    """CUDA events on torch's current stream."""

    def __init__(self):
        import torch

        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def start(self) -> None:
        self._start.record()

    def stop(self) -> float:
        self._end.record()
        self._end.synchronize()
        return self._start.elapsed_time(self._end)


class EngineClock:
    """CUDA events (runtime.cuda) on an optc engine's stream."""

    def __init__(self, stream):
        from runtime.cuda import Event

        self._stream, self._start, self._end = stream, Event(), Event()

    def start(self) -> None:
        self._start.record(self._stream)

    def stop(self) -> float:
        self._end.record(self._stream)
        return self._start.elapsed_ms(self._end)


class EngineRunner:
    """An optc engine with its inputs in place: a call replays the CUDA graph."""

    def __init__(self, engine, feeds: dict, build_s: float):
        import torch

        self.engine, self.build_s = engine, build_s
        self.clock = EngineClock(engine.stream)
        torch.cuda.synchronize()  # the feeds were written on torch's stream
        engine.set_inputs(feeds)
        engine.stream.synchronize()

    def __call__(self) -> None:
        self.engine.execute()

    def outputs(self) -> dict[str, np.ndarray]:
        self.engine.stream.synchronize()
        plan = self.engine.plan
        return {s.name: np.asarray(self.engine.view(s).to_numpy(), dtype=np.float32) for s in plan.outputs}

    def close(self) -> None:
        self.engine.close()


class TorchRunner:
    """A PyTorch callable on fixed CUDA inputs; outputs named as the ONNX file names them."""

    build_s = None

    def __init__(self, fn, args: tuple, names: tuple[str, ...], mark_step: bool = False):
        self.fn, self.args, self.names, self.mark_step = fn, args, names, mark_step
        self.clock = TorchClock()
        self._last = None

    def __call__(self) -> None:
        if self.mark_step:  # a new inference step for cudagraph trees (reduce-overhead)
            import torch

            torch.compiler.cudagraph_mark_step_begin()
        self._last = self.fn(*self.args)

    def outputs(self) -> dict[str, np.ndarray]:
        import torch

        torch.cuda.synchronize()
        values = self._last if isinstance(self._last, tuple | list) else (self._last,)
        if len(values) != len(self.names):
            raise ValueError(f"the model returned {len(values)} outputs, the ONNX file names {len(self.names)}")
        return {n: v.detach().float().cpu().numpy() for n, v in zip(self.names, values)}

    def close(self) -> None:
        self._last = None


def ensure_onnx(name: str, zoo: Path, log) -> Path:
    """The zoo's TorchScript export of `name`, exported now (and cached) if missing."""
    import build_zoo

    path = zoo / f"{name}.onnx"
    if path.exists():
        return path
    log(f"{name}: exporting to {path} (once; cached after)")
    if build_zoo.build([name], ["torchscript"], zoo, force=False) != 0 or not path.exists():
        failures = build_zoo.read_manifest(zoo).get("failures", [])
        why = next((f["error"] for f in failures if f["model"] == name), "see the log above")
        raise RuntimeError(f"export failed: {why}")
    return path


class TorchSession:
    """One zoo model on the GPU: its optc engines and its PyTorch versions, same weights.

    The PyTorch model is built once and compiled once per mode (`dynamic=False`: each
    batch gets its own static-shape graph, as optc's engine does); the compiled models are
    shared by every batch of the run."""

    def __init__(self, name: str, zoo: Path, precision: str, log):
        import build_zoo
        import torch

        self.name, self.precision, self.log = name, precision, log
        self.spec = build_zoo.MODELS[name]
        self.path = ensure_onnx(name, zoo, log)
        self.inputs = [Input.of(i) for i in self.spec.inputs]
        self.dtype = getattr(torch, TORCH_DTYPES[precision])
        torch.manual_seed(build_zoo.SEED)  # as build_zoo does before exporting: the same weights
        model = self.spec.build().eval().to("cuda", self.dtype)
        if name in CHANNELS_LAST:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self._compiled: dict[str, object] = {}
        self._imported: dict[int, tuple[object, float]] = {}
        self._args: dict[int, tuple] = {}

    def _torch_args(self, batch: int) -> tuple:
        """build_zoo's example inputs at `batch` on the GPU, floats in the run's dtype."""
        import build_zoo
        import torch

        if batch not in self._args:
            args = []
            for value in build_zoo.example_args(self.spec, batch):
                value = value.to("cuda")
                if value.is_floating_point():
                    value = value.to(self.dtype)
                    if self.name in CHANNELS_LAST and value.dim() == 4:
                        value = value.contiguous(memory_format=torch.channels_last)
                args.append(value)
            self._args = {batch: tuple(args)}  # one batch's inputs at a time
        return self._args[batch]

    def _import(self, batch: int):
        from compiler.onnx_import import import_onnx

        if batch not in self._imported:
            start = time.perf_counter()
            shapes = {i.name: [batch, *i.shape[1:]] for i in self.inputs}
            self._imported[batch] = (import_onnx(str(self.path), shapes), time.perf_counter() - start)
        return self._imported[batch]

    def cost(self, batch: int) -> tuple[float, float]:
        return model_cost(self._import(batch)[0], self.precision)

    def runner(self, system: str, batch: int):
        args = self._torch_args(batch)
        if system == OPTC:
            return self._engine(batch, args)
        if system == "eager":
            return TorchRunner(self.model, args, self.spec.outputs)
        return TorchRunner(self._compile(system), args, self.spec.outputs, mark_step=system == "compile-ro")

    def _engine(self, batch: int, args: tuple) -> EngineRunner:
        """Import (cached from `cost`), optimise, lower, compile with NVRTC, load. The same
        input values as PyTorch's, in the dtypes the engine's inputs keep (fp16 engines
        take f32 and cast on the GPU)."""
        import torch

        from compiler.engine_build import build_module, kernel_pipeline

        module, import_s = self._import(batch)
        del self._imported[batch]  # the build lowers it in place
        start = time.perf_counter()
        engine = build_module(module, pipeline=kernel_pipeline(self.precision))
        build_s = import_s + time.perf_counter() - start
        by_name = {i.name: value for i, value in zip(self.inputs, args)}
        feeds = {s.name: by_name[s.name].to(getattr(torch, s.dtype)).contiguous() for s in engine.plan.inputs}
        return EngineRunner(engine, feeds, build_s)

    def _compile(self, system: str):
        import torch

        if system not in self._compiled:
            mode = "reduce-overhead" if system == "compile-ro" else None
            # its own copy of the module: the two modes must not share dynamo's caches
            model = self.model if system == "compile" else copy.deepcopy(self.model)
            self._compiled[system] = torch.compile(model, mode=mode, dynamic=False)
        return self._compiled[system]

    def close(self) -> None:
        import torch

        self._compiled.clear()
        self._imported.clear()
        self._args.clear()
        self.model = None
        torch.compiler.reset()
        torch.cuda.empty_cache()


def configure_torch() -> dict:
    """PyTorch at its fastest for inference, recorded in the JSON: no autograd, cuDNN's
    autotuner on, a dynamo cache big enough for every model × batch × mode."""
    import torch

    torch.set_grad_enabled(False)
    torch.backends.cudnn.benchmark = True
    for key in ("cache_size_limit", "recompile_limit"):
        if hasattr(torch._dynamo.config, key):
            setattr(torch._dynamo.config, key, 64)
    return {"grad": False, "cudnn.benchmark": True, "channels_last": sorted(CHANNELS_LAST), "dynamic": False}


def measure_ceilings(groups: int, calls: int, warmup: int, precision: str = "fp16") -> Ceilings:
    """The best torch.matmul rate at `precision` over two large squares (fp32 with TF32
    off: optc's fp32 is exact), and the copy rate of a 1 GiB device-to-device copy (read +
    write), both medians of groups."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    dtype = getattr(torch, TORCH_DTYPES[precision])
    best, what = 0.0, ""
    for n in (4096, 8192):
        a, b = (torch.randn(n, n, device="cuda", dtype=dtype) for _ in range(2))
        c = torch.empty(n, n, device="cuda", dtype=dtype)
        ms = median(measure(lambda a=a, b=b, c=c: torch.matmul(a, b, out=c), TorchClock(), groups, calls, warmup))
        rate = 2 * n**3 / (ms * 1e-3) / 1e12
        if rate > best:
            best, what = rate, f"torch.matmul {precision} {n}x{n}x{n}"
        del a, b, c
    size = 1 << 30
    src = torch.empty(size, device="cuda", dtype=torch.uint8).random_()
    dst = torch.empty_like(src)
    ms = median(measure(lambda src=src, dst=dst: dst.copy_(src), TorchClock(), groups, calls, warmup))
    del src, dst
    torch.cuda.empty_cache()
    gbps = 2 * size / (ms * 1e-3) / 1e9
    return Ceilings(best, gbps, what, "torch copy_ of 1 GiB (device to device), read + write")
