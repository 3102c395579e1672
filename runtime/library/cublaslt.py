"""cuBLASLt matmuls as engine steps, through nvmath-python's low-level bindings.

    call = LtMatmul(m=128, n=3072, k=768, dtype="float16", epilogue="relu_bias")
    plan = LtPlan(call)                             # descriptors and layouts, on the GPU
    algos = plan.algorithms(8)                      # cuBLASLt's heuristic candidates
    plan.run(algos[0], a, b, d, bias=bias, workspace=ws, stream=stream)

What it computes. `LtMatmul` is plain data (saved in engine plans): row-major
D[b] (m x n) = epilogue(A[b] · B[b] (+ bias)), A stored [m, k] (`a_k_fast`) or [k, m], B
[k, n] (`b_n_fast`) or [n, k], batches `batch` apart by the given element strides (0: the
operand is broadcast), bias a vector of n. cuBLASLt is column-major: a row-major [r, c]
matrix is the column-major [c, r] one with the same bytes, so the call computes
Dᵀ = Bᵀ · Aᵀ, with cuBLASLt's "A" the stored B and its "B" the stored A (`column_major`).
Its bias is a vector over the rows of its D, that is over n: exactly a row-major bias.

Numerics: f16/bf16 operands accumulate in f32 (CUBLAS_COMPUTE_32F), as optc's own
tensor-core kernels do; f32 is exact fp32 (no TF32), as optc's SIMT kernels are.

An algorithm (`Algorithm`) is cuBLASLt's opaque 64-byte `cublasLtMatmulAlgo_t` with the
workspace it needs: engines store the bytes, and `LtPlan.check` re-validates them at load
(`cublasLtMatmulAlgoCheck`), so an engine built with another cuBLASLt is refused in words.

Everything above `LtPlan` is plain data, testable without a GPU.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from dialects.errors import OptcError
from runtime.library import LibraryError, LibraryUnavailable

NAME = "cublasLt"
"""The library's name in engine plans (`LibraryCall.library`) and timing-cache keys."""
TITLE = "cuBLASLt"

EPILOGUES = ("none", "relu", "gelu", "bias", "relu_bias", "gelu_bias")
"""What cuBLASLt may apply to the product before it stores it (its GELU is the tanh
approximation, so an exact-erf GELU is not offered to it)."""

DTYPES = ("float16", "bfloat16", "float32")

ALGO_BYTES = 64
"""sizeof(cublasLtMatmulAlgo_t): uint64_t data[8]."""
ALGORITHM = re.compile(f"[0-9a-f]{{{2 * ALGO_BYTES}}}")
"""An algorithm in a plan: its bytes in lower-case hex."""
ALGORITHM_FORM = f"{ALGO_BYTES} bytes in lower-case hex ({2 * ALGO_BYTES} digits)"


@dataclass(frozen=True)
class LtMatmul:
    """One cuBLASLt matmul for fixed shapes (row-major, as optc's tensors are)."""

    m: int
    n: int
    k: int
    dtype: str
    epilogue: str = "none"
    batch: int = 1
    a_batch_stride: int = 0
    b_batch_stride: int = 0
    a_k_fast: bool = True
    b_n_fast: bool = True
    out_dtype: str = ""
    """The type of D (and of the bias); "" means `dtype`."""

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise OptcError(f"cuBLASLt matmul: element type {self.dtype} is not one of {', '.join(DTYPES)}")
        if self.epilogue not in EPILOGUES:
            raise OptcError(f"cuBLASLt matmul: epilogue '{self.epilogue}' is not one of {', '.join(EPILOGUES)}")
        if min(self.m, self.n, self.k, self.batch) < 1:
            raise OptcError(f"cuBLASLt matmul: sizes must be positive, got m={self.m} n={self.n} k={self.k} batch={self.batch}")

    @property
    def d_dtype(self) -> str:
        return self.out_dtype or self.dtype

    @property
    def has_bias(self) -> bool:
        return self.epilogue.endswith("bias")

    def reads(self) -> list[tuple[str, str, int]]:
        """(role, element type, elements spanned) of A and B, in the order `run` takes them."""
        return [
            ("a", self.dtype, (self.batch - 1) * self.a_batch_stride + self.m * self.k),
            ("b", self.dtype, (self.batch - 1) * self.b_batch_stride + self.k * self.n),
        ]

    def writes(self) -> tuple[str, int]:
        """The element type and elements of D."""
        return self.d_dtype, self.batch * self.m * self.n


@dataclass(frozen=True)
class Layout:
    """One column-major matrix as cuBLASLt is told it: rows, columns, leading dimension and
    whether the call transposes it."""

    rows: int
    cols: int
    ld: int
    transposed: bool = False
    batch_stride: int = 0


def column_major(call: LtMatmul) -> tuple[Layout, Layout, Layout]:
    """cuBLASLt's (A, B, D) for `call`: Dᵀ (n x m) = op(Bᵀ) (n x k) · op(Aᵀ) (k x m)."""
    n, m, k = call.n, call.m, call.k
    # the stored B: [k, n] row-major is [n, k] column-major (ld n); [n, k] is [k, n] (ld k), transposed
    lt_a = Layout(n, k, n, False, call.b_batch_stride) if call.b_n_fast else Layout(k, n, k, True, call.b_batch_stride)
    # the stored A: [m, k] row-major is [k, m] column-major (ld k); [k, m] is [m, k] (ld m), transposed
    lt_b = Layout(k, m, k, False, call.a_batch_stride) if call.a_k_fast else Layout(m, k, m, True, call.a_batch_stride)
    lt_d = Layout(n, m, n, False, m * n if call.batch > 1 else 0)
    return lt_a, lt_b, lt_d


@dataclass(frozen=True)
class Algorithm:
    """A cuBLASLt algorithm for one LtMatmul: its opaque bytes and the workspace it needs."""

    data: bytes
    workspace: int
    index: int = 0
    """Its rank in the heuristic's list (what a tactic names)."""

    def __post_init__(self):
        if len(self.data) != ALGO_BYTES:
            raise OptcError(f"a cuBLASLt algorithm is {ALGO_BYTES} bytes, got {len(self.data)}")


def algorithm_of(library_call) -> Algorithm:
    """The Algorithm a plan's LibraryCall records."""
    return Algorithm(bytes.fromhex(library_call.algorithm), library_call.workspace)


def call_type(data: dict) -> type:
    """The class of the call a plan's JSON describes: always a matmul."""
    return LtMatmul


# --- the GPU side ------------------------------------------------------------------------------


def _bindings():
    try:
        from nvmath.bindings import cublas, cublasLt
    except Exception as exc:  # ImportError, or a dependency of nvmath that fails to import
        raise LibraryUnavailable(
            f"cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): {exc}"
        ) from None
    return cublas, cublasLt


def library_version() -> str:
    """cuBLASLt's version ("12.9.1"; it keys timing caches and engines), or raises
    LibraryUnavailable: nvmath-python missing, or the cuBLASLt library (or the CUDA driver
    it needs) not found when nvmath loads it."""
    _, lt = _bindings()
    try:
        version = int(lt.get_version())  # the first call loads libcublasLt
    except Exception as exc:  # nvmath's NotSupportedError, a missing library or driver
        raise LibraryUnavailable(f"cuBLASLt cannot be loaded: {exc}") from None
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"  # CUBLAS_VERSION: major·10000 + minor·100 + patch


def _cuda_type(dtype: str) -> int:
    """cudaDataType_t of an element type."""
    from nvmath import CudaDataType

    return int({"float16": CudaDataType.CUDA_R_16F, "bfloat16": CudaDataType.CUDA_R_16BF, "float32": CudaDataType.CUDA_R_32F}[dtype])


class _Handle:
    """The process's cuBLASLt handle (cuBLASLt handles are cheap and thread-safe to share),
    made in the primary context of device 0, where optc's engines run."""

    value: int | None = None

    @classmethod
    def get(cls) -> int:
        if cls.value is None:
            from runtime.cuda import current_context

            current_context()
            _, lt = _bindings()
            cls.value = lt.create()
        return cls.value


def _set(setter, obj: int, attr, dtype_of, value) -> None:
    buf = np.array(value, dtype=dtype_of(attr))
    setter(obj, attr, buf.ctypes.data, buf.itemsize)


class LtPlan:
    """The descriptors of one LtMatmul on this GPU; `run` enqueues it on a stream (it may be
    captured in a CUDA graph: every pointer is fixed by the caller, the scalars live here)."""

    def __init__(self, call: LtMatmul):
        self.call = call
        cublas, lt = self._cublas, self._lt = _bindings()
        self.handle = _Handle.get()
        try:
            self._describe(call)
        except lt.cuBLASLtError as exc:
            raise LibraryError(f"cuBLASLt cannot describe {call}: {exc}") from None
        self.alpha = np.ones(1, np.float32)
        self.beta = np.zeros(1, np.float32)
        self._bias_ptr: int | None = None
        self._algos: dict[bytes, np.ndarray] = {}

    def _describe(self, call: LtMatmul) -> None:
        """The matmul descriptor (compute in fp32, transposes, epilogue) and the layouts."""
        cublas, lt = self._cublas, self._lt
        self.desc = lt.matmul_desc_create(int(cublas.ComputeType.COMPUTE_32F), _cuda_type("float32"))
        attr = lt.MatmulDescAttribute
        lt_a, lt_b, lt_d = column_major(call)
        op = lambda t: cublas.Operation.T if t else cublas.Operation.N  # noqa: E731
        set_desc = lambda a, v: _set(lt.matmul_desc_set_attribute, self.desc, a, lt.get_matmul_desc_attribute_dtype, v)  # noqa: E731
        set_desc(attr.TRANSA, op(lt_a.transposed))
        set_desc(attr.TRANSB, op(lt_b.transposed))
        set_desc(attr.EPILOGUE, getattr(lt.Epilogue, call.epilogue.upper()) if call.epilogue != "none" else lt.Epilogue.DEFAULT)
        if call.has_bias:
            set_desc(attr.BIAS_DATA_TYPE, _cuda_type(call.d_dtype))
        self.layouts = [
            self._layout(lt_a, call.dtype),
            self._layout(lt_b, call.dtype),
            self._layout(lt_d, call.d_dtype),
        ]

    def _layout(self, layout: Layout, dtype: str) -> int:
        lt = self._lt
        handle = lt.matrix_layout_create(_cuda_type(dtype), layout.rows, layout.cols, layout.ld)
        if self.call.batch > 1:
            set_layout = lambda a, v: _set(lt.matrix_layout_set_attribute, handle, a, lt.get_matrix_layout_attribute_dtype, v)  # noqa: E731
            set_layout(lt.MatrixLayoutAttribute.BATCH_COUNT, self.call.batch)
            set_layout(lt.MatrixLayoutAttribute.STRIDED_BATCH_OFFSET, layout.batch_stride)
        return handle

    def _results(self, count: int) -> np.ndarray:
        """`count` zeroed cublasLtMatmulHeuristicResult_t records (algo: 64 bytes,
        workspace_size, state, waves_count, reserved), in memory numpy owns."""
        return np.zeros(count, self._lt.matmul_heuristic_result_dtype)

    def algorithms(self, count: int = 8, max_workspace: int = 32 << 20) -> list[Algorithm]:
        """cuBLASLt's heuristic candidates, best first (at most `count`; none when it has no
        algorithm for this matmul)."""
        cublas, lt = self._cublas, self._lt
        pref = lt.matmul_preference_create()
        records = self._results(count)
        returned = np.zeros(1, np.int32)
        try:
            _set(lt.matmul_preference_set_attribute, pref, lt.MatmulPreferenceAttribute.MAX_WORKSPACE_BYTES,
                 lt.get_matmul_preference_attribute_dtype, max_workspace)
            a, b, d = self.layouts
            lt.matmul_algo_get_heuristic(self.handle, self.desc, a, b, d, d, pref, count, records.ctypes.data, returned.ctypes.data)
        except lt.cuBLASLtError as exc:
            if getattr(exc, "status", None) != cublas.Status.NOT_SUPPORTED:  # NOT_SUPPORTED: no algorithm at all
                raise LibraryError(f"cuBLASLt's heuristic failed for {self.call}: {exc}") from None
            returned[0] = 0
        finally:
            lt.matmul_preference_destroy(pref)
        return [_algorithm(records[i], i) for i in range(min(int(returned[0]), count))]

    def check(self, algorithm: Algorithm) -> int:
        """The workspace `algorithm` needs with this cuBLASLt; LibraryError if it cannot run
        this matmul (an engine built with another cuBLASLt, or corrupted bytes)."""
        lt = self._lt
        record = self._results(1)
        a, b, d = self.layouts
        try:
            lt.matmul_algo_check(self.handle, self.desc, a, b, d, d, self._algo(algorithm).ctypes.data, record.ctypes.data)
        except lt.cuBLASLtError as exc:
            raise LibraryError(f"cuBLASLt {library_version()} cannot run this algorithm for {self.call}: {exc}") from None
        return int(record[0]["workspace_size"])

    def _algo(self, algorithm: Algorithm) -> np.ndarray:
        """The algorithm's bytes in host memory that lives as long as the plan."""
        algo = self._algos.get(algorithm.data)
        if algo is None:
            algo = self._algos[algorithm.data] = np.frombuffer(algorithm.data, np.uint8).copy()
        return algo

    def run(self, algorithm: Algorithm, a: int, b: int, d: int, *, bias: int = 0, workspace: int = 0,
            workspace_bytes: int = 0, stream=None) -> None:
        """Enqueue D = epilogue(A·B (+ bias)) on `stream` (device pointers as integers)."""
        lt = self._lt
        if self.call.has_bias and bias != self._bias_ptr:
            _set(lt.matmul_desc_set_attribute, self.desc, lt.MatmulDescAttribute.BIAS_POINTER,
                 lt.get_matmul_desc_attribute_dtype, bias)
            self._bias_ptr = bias
        if algorithm.workspace > workspace_bytes:
            raise LibraryError(f"the algorithm needs {algorithm.workspace} bytes of workspace, got {workspace_bytes}")
        la, lb, ld = self.layouts
        handle = 0 if stream is None else int(stream.handle)
        try:  # cuBLASLt's A is the stored B, its B the stored A (column_major)
            lt.matmul(self.handle, self.desc, self.alpha.ctypes.data, b, la, a, lb, self.beta.ctypes.data,
                      d, ld, d, ld, self._algo(algorithm).ctypes.data, workspace, workspace_bytes, handle)
        except lt.cuBLASLtError as exc:
            raise LibraryError(f"cublasLtMatmul failed for {self.call} (algorithm {algorithm.index}): {exc}") from None

    def close(self) -> None:
        lt = self._lt
        for layout in self.layouts:
            lt.matrix_layout_destroy(layout)
        lt.matmul_desc_destroy(self.desc)
        self.layouts = []


def _algorithm(record: np.void, index: int) -> Algorithm:
    """An Algorithm from one heuristic result record: its `algo` field (cublasLtMatmulAlgo_t,
    uint64_t data[8]) and its `workspace_size`."""
    return Algorithm(record["algo"].tobytes(), int(record["workspace_size"]), index)


Plan = LtPlan


@functools.cache
def heuristic(call: LtMatmul, count: int, max_workspace: int) -> tuple[Algorithm, ...]:
    """cuBLASLt's heuristic list for `call` on this GPU (at most `count`, each needing at most
    `max_workspace` bytes), asked once per process: the tuner and the engine build that
    follows it resolve a tactic's `algo = i` to the same bytes."""
    plan = LtPlan(call)
    try:
        return tuple(plan.algorithms(count, max_workspace))
    finally:
        plan.close()
