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

import ctypes
from dataclasses import dataclass

import numpy as np

from dialects.errors import OptcError

EPILOGUES = ("none", "relu", "gelu", "bias", "relu_bias", "gelu_bias")
"""What cuBLASLt may apply to the product before it stores it (its GELU is the tanh
approximation, so an exact-erf GELU is not offered to it)."""

DTYPES = ("float16", "bfloat16", "float32")

ALGO_BYTES = 64
"""sizeof(cublasLtMatmulAlgo_t): uint64_t data[8]."""


class LibraryUnavailable(OptcError):
    """nvmath-python (and the cuBLASLt it loads) is not installed here."""


class LibraryError(OptcError):
    """A cuBLASLt call that failed, or an algorithm this cuBLASLt cannot run."""


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


# --- the GPU side ------------------------------------------------------------------------------


def _bindings():
    try:
        from nvmath.bindings import cublas, cublasLt
    except Exception as exc:  # ImportError, or a cuBLASLt library that fails to load
        raise LibraryUnavailable(
            f"cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): {exc}"
        ) from None
    return cublas, cublasLt


def library_version() -> str:
    """cuBLASLt's version as a string (it keys timing caches and engines), or raises
    LibraryUnavailable."""
    _, lt = _bindings()
    return str(lt.get_version())


_CUDA_TYPES = {"float16": 2, "bfloat16": 14, "float32": 0}  # cudaDataType_t: CUDA_R_16F, CUDA_R_16BF, CUDA_R_32F
_COMPUTE_32F = 68  # cublasComputeType_t CUBLAS_COMPUTE_32F (pedantic fp32: no TF32)
_SCALE_32F = 0


class _Handle:
    """The process's cuBLASLt handle (cuBLASLt handles are cheap and thread-safe to share)."""

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
        self.desc = lt.matmul_desc_create(_COMPUTE_32F, _SCALE_32F)
        attr = lt.MatmulDescAttribute
        lt_a, lt_b, lt_d = column_major(call)
        op = lambda t: cublas.Operation.T if t else cublas.Operation.N  # noqa: E731
        set_desc = lambda a, v: _set(lt.matmul_desc_set_attribute, self.desc, a, lt.get_matmul_desc_attribute_dtype, v)  # noqa: E731
        set_desc(attr.TRANSA, op(lt_a.transposed))
        set_desc(attr.TRANSB, op(lt_b.transposed))
        set_desc(attr.EPILOGUE, getattr(lt.Epilogue, call.epilogue.upper()) if call.epilogue != "none" else lt.Epilogue.DEFAULT)
        if call.has_bias:
            set_desc(attr.BIAS_DATA_TYPE, _CUDA_TYPES[call.d_dtype])
        self.layouts = [
            self._layout(lt_a, call.dtype),
            self._layout(lt_b, call.dtype),
            self._layout(lt_d, call.d_dtype),
        ]
        self.alpha = np.ones(1, np.float32)
        self.beta = np.zeros(1, np.float32)
        self._bias_ptr: int | None = None

    def _layout(self, layout: Layout, dtype: str) -> int:
        lt = self._lt
        handle = lt.matrix_layout_create(_CUDA_TYPES[dtype], layout.rows, layout.cols, layout.ld)
        if self.call.batch > 1:
            set_layout = lambda a, v: _set(lt.matrix_layout_set_attribute, handle, a, lt.get_matrix_layout_attribute_dtype, v)  # noqa: E731
            set_layout(lt.MatrixLayoutAttribute.BATCH_COUNT, self.call.batch)
            set_layout(lt.MatrixLayoutAttribute.STRIDED_BATCH_OFFSET, layout.batch_stride)
        return handle

    def algorithms(self, count: int = 8, max_workspace: int = 32 << 20) -> list[Algorithm]:
        """cuBLASLt's heuristic candidates, best first (at most `count`)."""
        lt = self._lt
        pref = lt.matmul_preference_create()
        try:
            _set(lt.matmul_preference_set_attribute, pref, lt.MatmulPreferenceAttribute.MAX_WORKSPACE_BYTES,
                 lt.get_matmul_preference_attribute_dtype, max_workspace)
            results = lt.MatmulHeuristicResult(count)
            returned = np.zeros(1, np.int32)
            a, b, d = self.layouts
            lt.matmul_algo_get_heuristic(self.handle, self.desc, a, b, d, d, pref, count, results.ptr, returned.ctypes.data)
        finally:
            lt.matmul_preference_destroy(pref)
        return [self._algorithm(results, i) for i in range(int(returned[0]))]

    def _algorithm(self, results, i: int) -> Algorithm:
        record = np.asarray(results)[i] if hasattr(results, "__array__") else None
        stride = self._lt.matmul_heuristic_result_dtype.itemsize
        data = ctypes.string_at(results.ptr + i * stride, ALGO_BYTES)
        workspace = int(record["workspace_size"]) if record is not None else int(results.workspace_size[i])
        return Algorithm(data, workspace, i)

    def check(self, algorithm: Algorithm) -> int:
        """The workspace `algorithm` needs with this cuBLASLt; LibraryError if it cannot run
        this matmul (an engine built with another cuBLASLt, or corrupted bytes)."""
        lt = self._lt
        algo = self._algo(algorithm)
        result = lt.MatmulHeuristicResult(1)
        a, b, d = self.layouts
        try:
            lt.matmul_algo_check(self.handle, self.desc, a, b, d, d, algo.ptr, result.ptr)
        except Exception as exc:
            raise LibraryError(f"cuBLASLt {library_version()} cannot run this algorithm for {self.call}: {exc}") from None
        return int(result.workspace_size[0]) if hasattr(result, "workspace_size") else algorithm.workspace

    def _algo(self, algorithm: Algorithm):
        algo = self._lt.MatmulAlgo()
        ctypes.memmove(algo.ptr, algorithm.data, ALGO_BYTES)
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
        algo = self._algo(algorithm)
        la, lb, ld = self.layouts
        handle = 0 if stream is None else int(stream.handle)
        # cuBLASLt's A is the stored B, its B the stored A (column_major)
        lt.matmul(self.handle, self.desc, self.alpha.ctypes.data, b, la, a, lb, self.beta.ctypes.data,
                  d, ld, d, ld, algo.ptr, workspace, workspace_bytes, handle)

    def close(self) -> None:
        lt = self._lt
        for layout in self.layouts:
            lt.matrix_layout_destroy(layout)
        lt.matmul_desc_destroy(self.desc)
        self.layouts = []
