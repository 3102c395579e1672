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

A library kernel (`KernelSpec.library`, a tactic such as `cublaslt` or `cudnn`) is a
vendor-library call followed by its epilogue kernel (the kernel's image, which reads the
product at the start of the kernel's workspace); where the call writes the kernel's result
itself (`LibraryCall.d`), there is no epilogue kernel and the kernel has no image (-1).
What a call reads and writes is its library's to say (`runtime.library`: `reads()`,
`writes()`), so the checks below hold for every library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import ml_dtypes
import numpy as np

from dialects.errors import OptcError
from dialects.kernel import TACTIC_NAME
from runtime.library import cublaslt, cudnn
from runtime.library import library as library_module
from runtime.library.cublaslt import DTYPES, LtMatmul
from runtime.library.cudnn import ConvFprop, Sdpa

REGIONS = ("inputs", "weights", "arena")

# What a plan read from a file may say (checked by `from_json` and `check`). Each bound is
# far beyond any real engine and far below what would overflow a 64-bit device address.
MAX_REGION_BYTES = 1 << 40
"""A region's size, a slot's offset, a tensor's bytes: at most 1 TiB."""
MAX_RANK = 16
MAX_GRID = (2**31 - 1, 65535, 65535)
"""CUDA's grid limits, x, y, z."""
MAX_BLOCK_THREADS = 1024
MAX_SHARED_BYTES = 1 << 20
"""Dynamic shared memory of one launch (devices have at most 228 KiB; the driver refuses
more than this one has)."""
ARCH = re.compile(r"sm_(\d+)[af]?")
"""A real GPU architecture, as NVRTC names it (sm_80, sm_90, sm_90a)."""
C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_TILE_VALUE = 2**31 - 1
"""A tile parameter's range: 0 .. INT_MAX (sizes, counts and flags)."""
LIBRARIES = (cublaslt.NAME, cudnn.NAME)
"""The vendor libraries a library kernel may call."""
LIBRARY_ALIGNMENT = 256
"""Where a library's own workspace starts after the product, in the kernel's workspace."""
VERSION = re.compile(r"\d+(\.\d+)*")


class PlanError(OptcError):
    """A plan that is malformed or inconsistent: the message names the field and the rule."""


def device_dtype(name: str) -> np.dtype:
    """The numpy dtype of a device element type name (bfloat16 and the storage-only float8,
    float4, int4, int2 types through ml_dtypes)."""
    return np.dtype(getattr(ml_dtypes, name)) if hasattr(ml_dtypes, name) else np.dtype(name)


def _is_device_dtype(name: str) -> bool:
    """A number type by its own name: numpy's bool, integers, floats, complex, or one of
    ml_dtypes' (which numpy calls kind 'V', like raw bytes, hence the name test)."""
    try:
        dtype = device_dtype(name)
    except (TypeError, ValueError):
        return False
    return dtype.name == name and (dtype.kind in "biufc" or (dtype.kind == "V" and hasattr(ml_dtypes, name)))


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
class ParamSpec:
    """One pointer parameter of a kernel: the tensor its launches must bind."""

    dtype: str
    shape: tuple[int, ...]
    workspace: bool = False
    """The tactic's scratch memory (uint8 bytes, zeroed at load, in the arena past every
    planned buffer) rather than a tensor: always the last parameter."""

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * device_dtype(self.dtype).itemsize


@dataclass(frozen=True)
class LibraryCall:
    """The vendor-library call a library kernel makes before its epilogue kernel: what it
    computes, with which of the library's algorithms, and where its matrices are among the
    kernel's pointer parameters (indices into `KernelSpec.params`)."""

    library: str
    """"cublasLt" or "cudnn" (`LIBRARIES`)."""
    version: str
    """The library's version the algorithm was chosen with ("12.9.1"): another version may
    not run it, so the engine checks it at load."""
    call: LtMatmul | ConvFprop | Sdpa
    algorithm: str
    """The algorithm: cuBLASLt's opaque bytes (cublasLtMatmulAlgo_t) in hex, or the name of
    cuDNN's execution plan (`runtime.library.<library>.ALGORITHM`)."""
    workspace: int
    """Bytes of workspace the algorithm needs, after the product (at a multiple of
    LIBRARY_ALIGNMENT) in the kernel's workspace."""
    a: int
    b: int
    d: int | None = None
    """The parameter the call writes (the kernel's result); None: it writes the product at
    the start of the kernel's workspace, and the epilogue kernel reads it there."""
    extra: tuple[int, ...] = ()
    """The parameters of the operands the call reads after the first two (cuDNN's conv bias
    and residual, its attention's v and bias): `a`, `b`, then these, in `call.reads()`'s order."""
    frontend: str = ""
    """The version of the library's frontend that built the call's graph (cudnn-frontend's
    "1.14.1"; "" for a library called directly)."""

    def reads(self) -> tuple[int, ...]:
        """The parameters the call reads, in its order."""
        return (self.a, self.b, *self.extra)

    @property
    def product_bytes(self) -> int:
        """Bytes of the product in the kernel's workspace (0 when the call writes `d`)."""
        dtype, elements = self.call.writes()
        return 0 if self.d is not None else elements * device_dtype(dtype).itemsize

    @property
    def workspace_offset(self) -> int:
        """Where the library's workspace starts in the kernel's workspace: after the product."""
        return -(-self.product_bytes // LIBRARY_ALIGNMENT) * LIBRARY_ALIGNMENT


@dataclass(frozen=True)
class KernelSpec:
    """One compiled kernel: its entry name, the index of its image (cubin) and its launch:
    the tactic that `#kernel.launch` names, with its grid, block, shared memory and tile."""

    name: str
    image: int
    """Its cubin in the file; -1: none (a library kernel whose call writes its result)."""
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    tactic: str
    """Which of its generator's variants runs it (`simt`, `mma`, `grid_stride`, ...)."""
    tile: dict[str, int]
    """The tactic's tuning parameters (name → integer), as `#kernel.launch` says."""
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
    params: tuple[ParamSpec, ...] = ()
    """Its pointer parameters in order (arguments, then results): what each launch's slots
    must hold, so that no pointer the runtime passes runs past its region."""
    library: LibraryCall | None = None
    """The vendor-library call it makes first, for a library tactic (`cublaslt`, `cudnn`)."""

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
    def from_json(cls, data: object) -> EnginePlan:
        """The plan a file's JSON describes, every field present (or optional) and of its type
        and range; PlanError names the first that is not. `check` relates them to each other."""
        return cls(
            inputs=_items(data, "inputs", "plan", _tensor),
            outputs=_items(data, "outputs", "plan", _tensor),
            kernels=_items(data, "kernels", "plan", _kernel),
            launches=_items(data, "launches", "plan", _launch),
            region_bytes=_regions(_get(data, "region_bytes", "plan"), "plan.region_bytes"),
            arch=_str(_get(data, "arch", "plan"), "plan.arch"),
            memory=_memory(_get(data, "memory", "plan", {}), "plan.memory"),
            buffers=_items(data, "buffers", "plan", _buffer, optional=True),
        )

    def check(self, images: int, weights: int) -> None:
        """Raises PlanError unless the plan fits the file it came with (`images` cubins and a
        weights region of `weights` bytes) and itself: every kernel's image exists, every
        launch binds as many slots as its kernel has parameters and each slot holds its
        parameter's bytes inside its region, and so does every input and output."""
        if not ARCH.fullmatch(self.arch):
            raise PlanError(f"plan.arch '{_show(self.arch)}' is not a GPU architecture such as sm_80 or sm_90a")
        if self.region_bytes["weights"] != weights:
            raise PlanError(f"plan.region_bytes.weights is {self.region_bytes['weights']}, but the file holds {weights} bytes of weights")
        for role, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            _unique([t.name for t in tensors], f"plan.{role}")
            for i, t in enumerate(tensors):
                self._check_slot(t.slot, t.nbytes, f"plan.{role}[{i}] '{t.name}'")
        for i, t in enumerate(self.inputs):
            if t.slot.region != "inputs":
                raise PlanError(f"plan.inputs[{i}] '{t.name}' lives in the {t.slot.region} region; inputs live in the inputs region")
        _unique([k.name for k in self.kernels], "plan.kernels")
        for i, k in enumerate(self.kernels):
            if k.image >= images:
                raise PlanError(f"plan.kernels[{i}] '{k.name}' is in image {k.image}, but the file has {images} image(s)")
            _check_tactic(k, f"plan.kernels[{i}] '{k.name}'")
            _check_workspace(k, f"plan.kernels[{i}] '{k.name}'")
            _check_image(k, f"plan.kernels[{i}] '{k.name}'")
            if k.library is not None:
                _check_library(k, f"plan.kernels[{i}] '{k.name}'")
        kernels = {k.name: k for k in self.kernels}
        for i, launch in enumerate(self.launches):
            self._check_launch(launch, kernels, f"plan.launches[{i}]")
        for i, b in enumerate(self.buffers):
            self._check_slot(Slot("arena", b.offset), b.size, f"plan.buffers[{i}] '{b.label}'")
            if not b.first <= b.last <= len(self.launches):
                raise PlanError(f"plan.buffers[{i}] '{b.label}' lives from launch {b.first} to {b.last} of {len(self.launches)}")

    def _check_launch(self, launch: LaunchSpec, kernels: dict[str, KernelSpec], where: str) -> None:
        kernel = kernels.get(launch.kernel)
        if kernel is None:
            raise PlanError(f"{where} launches '{_show(launch.kernel)}', which is not one of the plan's kernels")
        if len(launch.args) != len(kernel.params):
            raise PlanError(f"{where} passes {len(launch.args)} pointer(s) to '{kernel.name}', which takes {len(kernel.params)}")
        for j, (slot, param) in enumerate(zip(launch.args, kernel.params)):
            self._check_slot(slot, param.nbytes, f"{where}.args[{j}] of '{kernel.name}' ({param.dtype} {list(param.shape)})")
            if param.workspace and (slot.region != "arena" or slot.offset < self.memory.get("bytes", 0)):
                raise PlanError(f"{where}.args[{j}] of '{kernel.name}' is its workspace, which lives in the arena past the planned buffers ({self.memory.get('bytes', 0)} bytes)")

    def _check_slot(self, slot: Slot, nbytes: int, what: str) -> None:
        size = self.region_bytes[slot.region]
        if slot.offset + nbytes > size:
            raise PlanError(
                f"{what} needs bytes {slot.offset}..{slot.offset + nbytes} of the {slot.region} region, which has {size}"
            )


def _check_tactic(kernel: KernelSpec, where: str) -> None:
    """The tactic is named as `#kernel.launch` names it, and the tile maps C identifiers to
    integers in range (a plan built in memory is held to what `from_json` reads)."""
    if not isinstance(kernel.tactic, str) or not TACTIC_NAME.fullmatch(kernel.tactic):
        raise PlanError(f"{where} has tactic '{_show(kernel.tactic)}', not a lower-case identifier ([a-z][a-z0-9_]*)")
    if not isinstance(kernel.tile, dict):
        raise PlanError(f"{where} has a tile that is {_kind(kernel.tile)}, not an object")
    for key, value in kernel.tile.items():
        if not isinstance(key, str) or not C_IDENTIFIER.fullmatch(key):
            raise PlanError(f"{where} has tile parameter '{_show(key)}', not a C identifier")
        if type(value) is not int or not 0 <= value <= MAX_TILE_VALUE:
            raise PlanError(f"{where} has tile parameter {key} = {_show(value)}, not an integer in 0..{MAX_TILE_VALUE}")


def _check_workspace(kernel: KernelSpec, where: str) -> None:
    """A workspace parameter is uint8 bytes and the last one."""
    for j, param in enumerate(kernel.params):
        if param.workspace and (j != len(kernel.params) - 1 or param.dtype != "uint8" or len(param.shape) != 1):
            raise PlanError(f"{where}.params[{j}] is a workspace, which must be the last parameter, uint8 bytes of rank 1")


def _check_image(kernel: KernelSpec, where: str) -> None:
    """A kernel without an image is a library kernel whose call writes its result, and such
    a kernel has none (an epilogue kernel would read a product that was never written)."""
    direct = kernel.library is not None and kernel.library.d is not None
    if kernel.image < 0 and not direct:
        raise PlanError(f"{where} has no image ({kernel.image}); only a library kernel whose call writes its result (library.d) has none")
    if kernel.image >= 0 and direct:
        raise PlanError(f"{where} has image {kernel.image}, but its library call writes its result (library.d = {kernel.library.d}): it runs no kernel of its own")


def _check_library(kernel: KernelSpec, where: str) -> None:
    """A library call of a known library and version, with an algorithm of its library's
    form, that reads its operands and writes D within the kernel's parameters of their
    element types, and whose product and library workspace fit the kernel's workspace."""
    lib, call, at = kernel.library, kernel.library.call, f"{where}.library"
    if lib.library not in LIBRARIES:
        raise PlanError(f"{at}.library '{_show(lib.library)}' is not one of {', '.join(LIBRARIES)}")
    module = library_module(lib.library)
    if not VERSION.fullmatch(lib.version):
        raise PlanError(f"{at}.version '{_show(lib.version)}' is not a version such as 12.9.1")
    if lib.frontend and not VERSION.fullmatch(lib.frontend):
        raise PlanError(f"{at}.frontend '{_show(lib.frontend)}' is not a version such as 1.14.1")
    if not module.ALGORITHM.fullmatch(lib.algorithm):
        raise PlanError(f"{at}.algorithm is not {module.ALGORITHM_FORM}: '{_show(lib.algorithm)}'")
    if not isinstance(call, module.call_type(asdict(call))):
        raise PlanError(f"{at}.call is a {type(call).__name__}, not a {lib.library} call")
    if isinstance(call, LtMatmul) and call.epilogue != "none":
        raise PlanError(f"{at}.call has epilogue '{call.epilogue}'; a library kernel's epilogue is its epilogue kernel's")
    params = kernel.params
    if not params or not params[-1].workspace:
        raise PlanError(f"{at}: a library kernel's last parameter is its workspace, '{kernel.name}' has none")
    tensors = len(params) - 1
    roles = call.reads()
    if len(lib.reads()) != len(roles):
        raise PlanError(f"{at} names {len(lib.reads())} operand(s), the call reads {len(roles)} ({', '.join(r for r, _, _ in roles)})")
    fields_ = ["a", "b", *(f"extra[{i}]" for i in range(len(lib.extra)))]
    matrices = [(name, role.upper(), index, dtype, elements) for name, index, (role, dtype, elements) in zip(fields_, lib.reads(), roles)]
    if lib.d is not None:
        matrices.append(("d", "D", lib.d, *call.writes()))
        if lib.d in lib.reads():
            raise PlanError(f"{at}.d is parameter {lib.d}, which the call also reads")
    for name, role, index, dtype, elements in matrices:
        if type(index) is not int or not 0 <= index < tensors:
            raise PlanError(f"{at}.{name} is {_show(index)}, not one of the kernel's {tensors} tensor parameters")
        param = params[index]
        if param.dtype != dtype:
            raise PlanError(f"{at}.{name} is parameter {index} of {param.dtype}, the call's {role} is {dtype}")
        if math.prod(param.shape) < elements:
            raise PlanError(f"{at}.{name} is parameter {index} of {math.prod(param.shape)} elements, the call's {role} spans {elements}")
    needed = lib.workspace_offset + lib.workspace
    if params[-1].nbytes < needed:
        raise PlanError(f"{at} needs {needed} bytes of workspace (product {lib.product_bytes}, library {lib.workspace}), the kernel's has {params[-1].nbytes}")


# --- reading a plan's JSON: each reader names the field it found wrong -----------------------

_REQUIRED = object()


def _show(value: object, limit: int = 40) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", tuple: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    if type(value) in (int, float):
        return f"the number {_show(value)}"
    return names.get(type(value), type(value).__name__)


def _get(data: object, key: str, where: str, default: object = _REQUIRED) -> object:
    if not isinstance(data, dict):
        raise PlanError(f"{where} must be an object, got {_kind(data)}")
    if key in data:
        return data[key]
    if default is _REQUIRED:
        raise PlanError(f"{where} has no '{key}'")
    return default


def _int(value: object, where: str, low: int = 0, high: int = MAX_REGION_BYTES) -> int:
    if type(value) is not int:  # not bool, not float
        raise PlanError(f"{where} must be an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise PlanError(f"{where} is {_show(value)}, outside {low}..{high}")
    return value


def _float(value: object, where: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise PlanError(f"{where} must be a finite number, got {_kind(value)}")
    return float(value)


def _bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise PlanError(f"{where} must be a boolean, got {_kind(value)}")
    return value


def _str(value: object, where: str, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str):
        raise PlanError(f"{where} must be a string, got {_kind(value)}")
    if pattern is not None and not pattern.fullmatch(value):
        raise PlanError(f"{where} '{_show(value)}' is not a C identifier")
    return value


def _list(value: object, where: str, length: int | None = None) -> list | tuple:
    if not isinstance(value, (list, tuple)):  # tuples: a plan's own to_json()
        raise PlanError(f"{where} must be a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise PlanError(f"{where} must have {length} entries, got {len(value)}")
    return value


def _items(data: object, key: str, where: str, read: Callable, optional: bool = False) -> tuple:
    values = _list(_get(data, key, where, [] if optional else _REQUIRED), f"{where}.{key}")
    return tuple(read(value, f"{where}.{key}[{i}]") for i, value in enumerate(values))


def _dtype(value: object, where: str) -> str:
    name = _str(value, where)
    if not _is_device_dtype(name):
        raise PlanError(f"{where} '{_show(name)}' is not an element type")
    return name


def _shape(value: object, where: str) -> tuple[int, ...]:
    dims = _list(value, where)
    if len(dims) > MAX_RANK:
        raise PlanError(f"{where} has rank {len(dims)}, more than {MAX_RANK}")
    shape = tuple(_int(d, f"{where}[{i}]") for i, d in enumerate(dims))
    if math.prod(shape) > MAX_REGION_BYTES:
        raise PlanError(f"{where} {list(shape)} has more than {MAX_REGION_BYTES} elements")
    return shape


def _slot(data: object, where: str) -> Slot:
    region = _str(_get(data, "region", where), f"{where}.region")
    if region not in REGIONS:
        raise PlanError(f"{where}.region '{_show(region)}' is not a region ({', '.join(REGIONS)})")
    return Slot(region, _int(_get(data, "offset", where), f"{where}.offset"))


def _tensor(data: object, where: str) -> TensorSpec:
    return TensorSpec(
        _str(_get(data, "name", where), f"{where}.name"),
        _dtype(_get(data, "dtype", where), f"{where}.dtype"),
        _shape(_get(data, "shape", where), f"{where}.shape"),
        _slot(_get(data, "slot", where), f"{where}.slot"),
    )


def _dims(data: object, key: str, where: str, limits: tuple[int, ...]) -> tuple[int, int, int]:
    values = _list(_get(data, key, where), f"{where}.{key}", 3)
    return tuple(_int(v, f"{where}.{key}[{i}]", 1, limit) for i, (v, limit) in enumerate(zip(values, limits)))


def _kernel(data: object, where: str) -> KernelSpec:
    block = _dims(data, "block", where, (MAX_BLOCK_THREADS,) * 3)
    if math.prod(block) > MAX_BLOCK_THREADS:
        raise PlanError(f"{where}.block {list(block)} has more than {MAX_BLOCK_THREADS} threads")
    ops = _list(_get(data, "ops", where, []), f"{where}.ops")

    def param(value: object, at: str) -> ParamSpec:
        workspace = _get(value, "workspace", at, False)
        if not isinstance(workspace, bool):
            raise PlanError(f"{at}.workspace must be a boolean, got {_kind(workspace)}")
        return ParamSpec(_dtype(_get(value, "dtype", at), f"{at}.dtype"), _shape(_get(value, "shape", at), f"{at}.shape"), workspace)

    library = _get(data, "library", where, None)
    return KernelSpec(
        name=_str(_get(data, "name", where), f"{where}.name", C_IDENTIFIER),
        image=_int(_get(data, "image", where), f"{where}.image", -1),
        grid=_dims(data, "grid", where, MAX_GRID),
        block=block,
        shared_bytes=_int(_get(data, "shared_bytes", where), f"{where}.shared_bytes", 0, MAX_SHARED_BYTES),
        tactic=_str(_get(data, "tactic", where), f"{where}.tactic"),
        tile=_tile(_get(data, "tile", where), f"{where}.tile"),
        ops=tuple(_str(op, f"{where}.ops[{i}]") for i, op in enumerate(ops)),
        # bytes, flops, dtype and entry are what profiles read: unknown when absent
        bytes=_int(_get(data, "bytes", where, 0), f"{where}.bytes", 0, 2**63 - 1),
        flops=_int(_get(data, "flops", where, 0), f"{where}.flops", 0, 2**63 - 1),
        dtype=_str(_get(data, "dtype", where, ""), f"{where}.dtype"),
        entry=_str(_get(data, "entry", where, ""), f"{where}.entry", re.compile(f"({C_IDENTIFIER.pattern})?")),
        params=_items(data, "params", where, param),
        library=None if library is None else _library(library, f"{where}.library"),
    )


_CALL_FIELDS = {  # LtMatmul's fields and their JSON types
    "m": int, "n": int, "k": int, "dtype": str, "epilogue": str, "batch": int,
    "a_batch_stride": int, "b_batch_stride": int, "a_k_fast": bool, "b_n_fast": bool, "out_dtype": str,
}


def _library(data: object, where: str) -> LibraryCall:
    d = _get(data, "d", where)
    library = _str(_get(data, "library", where), f"{where}.library")
    if library not in LIBRARIES:
        raise PlanError(f"{where}.library '{_show(library)}' is not one of {', '.join(LIBRARIES)}")
    extra = _list(_get(data, "extra", where, []), f"{where}.extra")
    return LibraryCall(
        library=library,
        version=_str(_get(data, "version", where), f"{where}.version"),
        call=_call(_get(data, "call", where), f"{where}.call") if library == cublaslt.NAME else _cudnn_call(_get(data, "call", where), f"{where}.call"),
        algorithm=_str(_get(data, "algorithm", where), f"{where}.algorithm"),
        workspace=_int(_get(data, "workspace", where), f"{where}.workspace"),
        a=_int(_get(data, "a", where), f"{where}.a"),
        b=_int(_get(data, "b", where), f"{where}.b"),
        d=None if d is None else _int(d, f"{where}.d"),
        extra=tuple(_int(v, f"{where}.extra[{i}]") for i, v in enumerate(extra)),
        frontend=_str(_get(data, "frontend", where, ""), f"{where}.frontend"),
    )


_FIELD_READERS: dict[str, Callable[[object, str], object]] = {
    "int": lambda v, at: _int(v, at),
    "float": lambda v, at: _float(v, at),
    "bool": lambda v, at: _bool(v, at),
    "str": lambda v, at: _str(v, at),
    "tuple[int, ...]": lambda v, at: tuple(_int(x, f"{at}[{i}]") for i, x in enumerate(_list(v, at))),
    "tuple[str, ...]": lambda v, at: tuple(_str(x, f"{at}[{i}]") for i, x in enumerate(_list(v, at))),
}
"""A call field's declared type → its reader (cuDNN's calls are read by their fields)."""


def _cudnn_call(data: object, where: str) -> ConvFprop | Sdpa:
    """A cuDNN call (by its `op`): every field of its class, each of its declared type."""
    op = _str(_get(data, "op", where), f"{where}.op")
    try:
        kind = cudnn.call_type({"op": op})
    except OptcError as exc:
        raise PlanError(f"{where}: {exc}") from None
    values = {f.name: _FIELD_READERS[f.type](_get(data, f.name, where), f"{where}.{f.name}") for f in fields(kind)}
    try:
        return kind(**values)
    except OptcError as exc:
        raise PlanError(f"{where}: {exc}") from None


def _call(data: object, where: str) -> LtMatmul:
    """An LtMatmul: every field of its type, sizes and strides in range, the element types
    cuBLASLt takes."""
    fields = {}
    for key, kind in _CALL_FIELDS.items():
        value = _get(data, key, where)
        if kind is int:
            fields[key] = _int(value, f"{where}.{key}")
        elif type(value) is not kind:
            raise PlanError(f"{where}.{key} must be {'a boolean' if kind is bool else 'a string'}, got {_kind(value)}")
        else:
            fields[key] = value
    if fields["out_dtype"] not in ("", *DTYPES):
        raise PlanError(f"{where}.out_dtype '{_show(fields['out_dtype'])}' is not one of {', '.join(DTYPES)}")
    try:
        return LtMatmul(**fields)
    except OptcError as exc:
        raise PlanError(f"{where}: {exc}") from None


def _tile(data: object, where: str) -> dict[str, int]:
    if not isinstance(data, dict):
        raise PlanError(f"{where} must be an object, got {_kind(data)}")
    return {str(k): _int(v, f"{where}.{k}", 0, MAX_TILE_VALUE) for k, v in data.items()}


def _launch(data: object, where: str) -> LaunchSpec:
    return LaunchSpec(_str(_get(data, "kernel", where), f"{where}.kernel"), _items(data, "args", where, _slot))


def _buffer(data: object, where: str) -> BufferSpec:
    def field_(key: str) -> int:
        return _int(_get(data, key, where), f"{where}.{key}")

    return BufferSpec(
        _str(_get(data, "label", where), f"{where}.label"), field_("offset"), field_("size"), field_("first"), field_("last")
    )


def _regions(data: object, where: str) -> dict[str, int]:
    return {r: _int(_get(data, r, where), f"{where}.{r}") for r in REGIONS}


def _memory(data: object, where: str) -> dict[str, int]:
    if not isinstance(data, dict):
        raise PlanError(f"{where} must be an object, got {_kind(data)}")
    return {str(k): _int(v, f"{where}.{k}") for k, v in data.items()}


def _unique(names: list[str], role: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise PlanError(f"{role} has '{_show(name)}' twice")
        seen.add(name)
