"""What an engine does, as plain data: where every tensor lives, which kernels exist and how
they are launched, in order.

Device memory is three regions, each one allocation: `inputs` (the model's inputs, copied
in on every run), `weights` (weights and constants, uploaded once) and `arena` (every
intermediate, at the offsets memory planning chose). A `Slot` is a (region, byte offset);
a launch's arguments are the slots of its kernel's pointer parameters, in the kernel's
order (arguments, then results). A model output is read back from its slot.

Element types are named by their device representation ("float32", "float16",
"bfloat16", "int64", "bool", ...): bfloat16 is 2 bytes on the device, whatever numpy
does on the host.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import ml_dtypes
import numpy as np

REGIONS = ("inputs", "weights", "arena")


def device_dtype(name: str) -> np.dtype:
    """The numpy dtype of a device element type name (bfloat16 and the storage-only float8,
    float4, int4, int2 types through ml_dtypes)."""
    return np.dtype(getattr(ml_dtypes, name)) if hasattr(ml_dtypes, name) else np.dtype(name)


@dataclass(frozen=True)
class Slot:
    region: str
    offset: int

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"unknown memory region '{self.region}' (regions: {', '.join(REGIONS)})")


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: its name, element type, shape and where it lives."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    slot: Slot

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * device_dtype(self.dtype).itemsize


@dataclass(frozen=True)
class KernelSpec:
    """One compiled kernel: its entry name, the index of its image (cubin) and its launch."""

    name: str
    image: int
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    ops: tuple[str, ...] = ()
    """The ONNX nodes (or graph ops) it computes, for profiles and error messages."""
    bytes: int = 0
    """Bytes one launch must move at least: every operand read once, every result written
    once (what achieved bandwidth is measured against; 0 when unknown)."""
    flops: int = 0
    """Floating-point (or integer multiply-add) operations of one launch, counting a
    multiply-add as two: matmuls, convolutions and attention; 0 for everything else."""
    dtype: str = ""
    """The element type it computes in (its first operand's), to pick the matmul ceiling a
    kernel with flops is judged against; "" when unknown."""
    entry: str = ""
    """The `__global__` function's name in its image when it differs from `name`: kernels
    with the same code share one image and entry (`optc_<digest>`); "" means `name`."""

    @property
    def function(self) -> str:
        """The entry point to look up in the image."""
        return self.entry or self.name


@dataclass(frozen=True)
class BufferSpec:
    """One intermediate tensor of the arena, for the memory report: its bytes at `offset`
    are live from launch `first` (which writes it) to launch `last` (the last that reads
    it; `len(launches)` for a model output), both inclusive."""

    label: str
    offset: int
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class LaunchSpec:
    kernel: str
    args: tuple[Slot, ...]


@dataclass(frozen=True)
class EnginePlan:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    kernels: tuple[KernelSpec, ...]
    launches: tuple[LaunchSpec, ...]
    region_bytes: dict[str, int]
    arch: str
    memory: dict[str, int] = field(default_factory=dict)
    """Arena statistics: bytes, naive, lower_bound (what plan-memory reported)."""
    buffers: tuple[BufferSpec, ...] = ()
    """Every arena buffer with its live interval (the memory report draws them)."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> EnginePlan:
        def tensor(d: dict) -> TensorSpec:
            return TensorSpec(d["name"], d["dtype"], tuple(d["shape"]), Slot(**d["slot"]))

        def kernel(d: dict) -> KernelSpec:
            # bytes, flops, dtype, entry and buffers are optional: engines written before they
            # existed read as "unknown", and older readers ignore them (same format version)
            return KernelSpec(
                d["name"], d["image"], tuple(d["grid"]), tuple(d["block"]), d["shared_bytes"], tuple(d["ops"]),
                int(d.get("bytes", 0)), int(d.get("flops", 0)), str(d.get("dtype", "")), str(d.get("entry", "")),
            )

        return cls(
            inputs=tuple(tensor(d) for d in data["inputs"]),
            outputs=tuple(tensor(d) for d in data["outputs"]),
            kernels=tuple(kernel(d) for d in data["kernels"]),
            launches=tuple(LaunchSpec(d["kernel"], tuple(Slot(**s) for s in d["args"])) for d in data["launches"]),
            region_bytes=dict(data["region_bytes"]),
            arch=data["arch"],
            memory=dict(data.get("memory", {})),
            buffers=tuple(
                BufferSpec(d["label"], d["offset"], d["size"], d["first"], d["last"]) for d in data.get("buffers", ())
            ),
        )
