"""cuDNN graphs as engine steps, through cudnn-frontend's Python module (`cudnn`, the
`nvidia-cudnn-frontend` wheel, which loads cuDNN 9 itself):

    call = ConvFprop(dtype="float16", batch=8, cin=64, cout=64, in_size=(56, 56), kernel=(3, 3),
                     out_size=(56, 56), strides=(1, 1), pads=(1, 1), epilogue=("bias", "relu"))
    plan = CudnnPlan(call)                          # the graph, its engine configurations
    choices = plan.choices(4, 32 << 20)             # cuDNN's heuristic list, built
    plan.check(choices[0])                          # the workspace it needs here
    plan.run(choices[0], x, w, bias, y, workspace=ws, workspace_bytes=n, stream=stream)

What it computes. `ConvFprop`: a 2-D convolution on channels-last tensors (x NHWC, w
KRSC, as optc's channels-last convs store them; group 1, symmetric padding, no
dilation), then its `epilogue`: pointwise nodes cuDNN fuses into the graph, in order, on
fp32 intermediates (`POINTWISE`: "bias" adds a vector over the output channels, "add" a
tensor of the output's shape, each read from the next operand). `Sdpa`: softmax(q·kᵀ·scale
+ bias, causal)·v on [batch, heads, seq, dim] tensors, with an optional additive bias of
[1 or batch, 1 or heads, s_q, s_k]; the result in `layout` (bhsd, or bshd: the heads of one
position side by side). Both are plain data, saved in engine plans; `reads()` and
`writes()` say what each operand is, in the order the call takes pointers.

cuDNN's tensors are always described in NCHW order (batch, channels, spatial...) with
strides that say where each element lives: a channels-last tensor is the same dims with
channels of stride 1.

Numerics: f16/bf16 operands with fp32 compute (engines that reduce in f16 are deselected:
optc accumulates in fp32); f32 convs exclude tensor-core engines (TF32), as cuBLASLt's
tactic runs exact fp32.

An algorithm (`Choice`) is one execution plan of cuDNN's heuristic list (modes A, then
FALLBACK), named as cuDNN names it ("eng0_k2=1_k3=0"), with its workspace. Engines store
the name; at load `CudnnPlan.check` finds that plan among this cuDNN's, so an engine
whose plan this cuDNN does not offer is refused in words.

CUDA graphs. `run` executes the plan on the given stream (`cudnnSetStream`, then the
frontend's `execute_plan_at_index`). The engine captures its whole launch sequence by
stream capture, as PyTorch captures its cuDNN convolutions and SDPA: for these graphs the
frontend's execute is cuDNN's backend execute alone (1.14.1 adds host-to-device copies
and memsets into the workspace only for ALiBi slopes and backward graphs, which optc never
builds). The frontend's `populate_cuda_graph` (a cuDNN-made child graph) serves only
engines with the native CUDA-graph behaviour note and would need the engine to assemble
its graph by hand. A plan's first execution may set its kernels up (cuDNN's
runtime-compiled engines), which must not happen inside a capture: the engine and the
timer run every step once first.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from dataclasses import dataclass

from dialects.errors import OptcError
from runtime.library import LibraryError, LibraryUnavailable

NAME = "cudnn"
"""The library's name in engine plans (`LibraryCall.library`) and timing-cache keys."""
TITLE = "cuDNN"
FRONTEND = "cudnn-frontend"
"""The frontend's name in timing-cache keys (its version is recorded beside cuDNN's)."""

DTYPES = ("float16", "bfloat16", "float32")
SDPA_DTYPES = ("float16", "bfloat16")
LAYOUTS = ("bhsd", "bshd")
POINTWISE = ("bias", "add", "relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "swish")
"""The conv epilogue's nodes: bias (a vector over the output channels), add (a tensor of the
output's shape), and activations whose cuDNN pointwise modes are exactly optc's ops (gelu:
the erf form; gelu_tanh: the tanh approximation; swish: x·sigmoid(x), i.e. silu)."""
OPERAND_NODES = {"bias": "bias", "add": "residual"}
"""Epilogue nodes that read an operand, and the operand's role."""

ALGORITHM = re.compile(r"[A-Za-z0-9_=.,:+-]{1,256}")
"""An algorithm in a plan: the name cuDNN gives an execution plan."""
ALGORITHM_FORM = "a cuDNN execution plan's name such as eng0_k2=1 (letters, digits, _=.,:+-; at most 256)"


def _positive(what: str, values) -> None:
    if min(values) < 1:
        raise OptcError(f"cuDNN {what}: sizes must be positive, got {list(values)}")


def _dense(dims: list[int]) -> list[int]:
    """Row-major strides of `dims`."""
    return [math.prod(dims[i + 1 :]) for i in range(len(dims))]


@dataclass(frozen=True)
class ConvFprop:
    """One channels-last 2-D convolution and its fused pointwise epilogue."""

    dtype: str
    batch: int
    cin: int
    cout: int
    in_size: tuple[int, ...]
    kernel: tuple[int, ...]
    out_size: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    """Padding before each spatial dim (and the same after: cuDNN's fused engines take
    symmetric padding)."""
    epilogue: tuple[str, ...] = ()
    op: str = "conv_fprop"

    def __post_init__(self):
        if self.op != "conv_fprop":
            raise OptcError(f"a cuDNN convolution's op is conv_fprop, got '{self.op}'")
        if self.dtype not in DTYPES:
            raise OptcError(f"cuDNN conv: element type {self.dtype} is not one of {', '.join(DTYPES)}")
        spatial = (self.in_size, self.kernel, self.out_size, self.strides, self.pads)
        if any(len(s) != 2 for s in spatial):
            raise OptcError(f"cuDNN conv: in_size, kernel, out_size, strides and pads each have 2 spatial dims, got {[list(s) for s in spatial]}")
        _positive("conv", (self.batch, self.cin, self.cout, *self.in_size, *self.kernel, *self.out_size, *self.strides))
        if min(self.pads) < 0:
            raise OptcError(f"cuDNN conv: pads must not be negative, got {list(self.pads)}")
        for size, k, out, stride, pad in zip(*spatial):
            if out != (size + 2 * pad - k) // stride + 1:
                raise OptcError(f"cuDNN conv: {size} pixels padded by {pad} on each side under a {k}-tap kernel at stride {stride} give {(size + 2 * pad - k) // stride + 1} outputs, not {out}")
        unknown = [node for node in self.epilogue if node not in POINTWISE]
        if unknown:
            raise OptcError(f"cuDNN conv: epilogue node(s) {', '.join(unknown)} not among {', '.join(POINTWISE)}")

    def _dims(self, channels: int, spatial: tuple[int, ...], first: int) -> tuple[list[int], list[int]]:
        """cuDNN's (dims, strides) of a channels-last tensor [first, *spatial, channels]."""
        dims = [first, channels, *spatial]
        stored = _dense([first, *spatial, channels])  # strides of N, spatial..., C
        return dims, [stored[0], 1, *stored[1:-1]]

    def x(self):
        return self._dims(self.cin, self.in_size, self.batch)

    def w(self):
        return self._dims(self.cin, self.kernel, self.cout)

    def y(self):
        return self._dims(self.cout, self.out_size, self.batch)

    def bias(self):
        dims = [1, self.cout, 1, 1]
        return dims, [self.cout, 1, self.cout, self.cout]

    def reads(self) -> list[tuple[str, str, int]]:
        """(role, element type, elements) of each operand, in the order `run` takes them."""
        operands = [("x", self.dtype, math.prod(self.x()[0])), ("w", self.dtype, math.prod(self.w()[0]))]
        for node in self.epilogue:
            if node == "bias":
                operands.append(("bias", self.dtype, self.cout))
            elif node == "add":
                operands.append(("residual", self.dtype, math.prod(self.y()[0])))
        return operands

    def writes(self) -> tuple[str, int]:
        """The element type and elements of y."""
        return self.dtype, math.prod(self.y()[0])


@dataclass(frozen=True)
class Sdpa:
    """Scaled-dot-product attention for fixed shapes (cuDNN's flash attention, inference)."""

    dtype: str
    batch: int
    heads: int
    s_q: int
    s_k: int
    d: int
    d_v: int
    scale: float
    causal: bool = False
    """Bottom-right aligned, as optc's attention is: query i sees keys up to i + s_k - s_q."""
    layout: str = "bhsd"
    bias: tuple[int, ...] = ()
    """The additive bias's dims [1 or batch, 1 or heads, s_q, s_k]; () for none."""
    op: str = "sdpa"

    def __post_init__(self):
        if self.op != "sdpa":
            raise OptcError(f"a cuDNN attention's op is sdpa, got '{self.op}'")
        if self.dtype not in SDPA_DTYPES:
            raise OptcError(f"cuDNN SDPA: element type {self.dtype} is not one of {', '.join(SDPA_DTYPES)}")
        if self.layout not in LAYOUTS:
            raise OptcError(f"cuDNN SDPA: layout '{self.layout}' is not one of {', '.join(LAYOUTS)}")
        _positive("SDPA", (self.batch, self.heads, self.s_q, self.s_k, self.d, self.d_v))
        if not math.isfinite(self.scale):
            raise OptcError(f"cuDNN SDPA: scale {self.scale} is not finite")
        if self.bias and (
            len(self.bias) != 4 or self.bias[0] not in (1, self.batch) or self.bias[1] not in (1, self.heads) or tuple(self.bias[2:]) != (self.s_q, self.s_k)
        ):
            raise OptcError(f"cuDNN SDPA: bias dims {list(self.bias)} are not [1 or {self.batch}, 1 or {self.heads}, {self.s_q}, {self.s_k}]")

    def q(self):
        dims = [self.batch, self.heads, self.s_q, self.d]
        return dims, _dense(dims)

    def k(self):
        dims = [self.batch, self.heads, self.s_k, self.d]
        return dims, _dense(dims)

    def v(self):
        dims = [self.batch, self.heads, self.s_k, self.d_v]
        return dims, _dense(dims)

    def o(self):
        dims = [self.batch, self.heads, self.s_q, self.d_v]
        if self.layout == "bhsd":
            return dims, _dense(dims)
        b, s, h, d = _dense([self.batch, self.s_q, self.heads, self.d_v])
        return dims, [b, h, s, d]

    def bias_tensor(self):
        dims = list(self.bias)
        return dims, _dense(dims)

    def reads(self) -> list[tuple[str, str, int]]:
        operands = [(role, self.dtype, math.prod(dims(self)[0])) for role, dims in (("q", Sdpa.q), ("k", Sdpa.k), ("v", Sdpa.v))]
        if self.bias:
            operands.append(("bias", self.dtype, math.prod(self.bias)))
        return operands

    def writes(self) -> tuple[str, int]:
        return self.dtype, math.prod(self.o()[0])


CALLS = {"conv_fprop": ConvFprop, "sdpa": Sdpa}
"""A cuDNN call's `op` → its class."""


def call_type(data: dict) -> type:
    """The class of the call a plan's JSON describes (by its `op`)."""
    op = data.get("op") if isinstance(data, dict) else None
    if op not in CALLS:
        raise OptcError(f"op '{op}' is not a cuDNN call ({', '.join(CALLS)})")
    return CALLS[op]


@dataclass(frozen=True)
class Choice:
    """One execution plan of cuDNN's heuristic list for a call: its name, its workspace and
    its rank among those that build here (what a tactic's `plan = i` names)."""

    name: str
    workspace: int
    index: int = 0


def algorithm_of(library_call) -> Choice:
    """The Choice a plan's LibraryCall records."""
    return Choice(library_call.algorithm, library_call.workspace)


# --- the GPU side ------------------------------------------------------------------------------


def _preload() -> None:
    """Load cuDNN 9 and the CUDA runtime the frontend opens by soname (libcudnn.so.9,
    libcudart.so.13 or .12) from wherever cuda-pathfinder (which cuda-bindings brings) finds
    them: torch's nvidia wheels in any site-packages, or the CUDA install. The frontend then
    finds them loaded; a library pathfinder does not find is left to the frontend's own
    search, whose error says which one is missing."""
    from cuda.pathfinder import DynamicLibNotFoundError, load_nvidia_dynamic_lib

    for name in ("cudart", "cudnn"):
        try:
            load_nvidia_dynamic_lib(name)
        except (DynamicLibNotFoundError, OSError):
            continue


@functools.cache
def _module():
    if importlib.util.find_spec("cudnn") is None:
        raise LibraryUnavailable("cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9 (pip install 'optc[cuda-libs]'; torch brings cuDNN): No module named 'cudnn'")
    _preload()
    try:
        import cudnn
    except Exception as exc:  # ImportError, or OSError where the frontend's dlopen finds no libcudnn
        raise LibraryUnavailable(
            f"cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9 (pip install 'optc[cuda-libs]'; torch brings cuDNN): {exc}"
        ) from None
    return cudnn


def _backend_version() -> int:
    cudnn = _module()
    try:
        return int(cudnn.backend_version())
    except Exception as exc:  # the library loaded but does not answer
        raise LibraryUnavailable(f"cuDNN cannot be loaded: {exc}") from None


def library_version() -> str:
    """cuDNN's version ("9.10.2"; it keys timing caches and engines), or raises
    LibraryUnavailable: the frontend missing, cuDNN not found, or older than 9."""
    version = _backend_version()  # CUDNN_VERSION since 9: major·10000 + minor·100 + patch
    if version < 90000:
        raise LibraryUnavailable(f"cuDNN tactics need cuDNN 9, this is version {version}")
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"


def frontend_version() -> str:
    """cudnn-frontend's version ("1.14.1"): the graphs it builds, recorded beside cuDNN's."""
    return str(_module().__version__)


class _Handle:
    """The process's cuDNN handle, made in the primary context of device 0, where optc's
    engines run; each run sets its stream."""

    value = None

    @classmethod
    def get(cls):
        if cls.value is None:
            from runtime.cuda import current_context

            current_context()
            try:
                cls.value = _module().create_handle()
            except Exception as exc:  # no CUDA runtime for the frontend, no device
                raise LibraryError(f"cuDNN cannot make a handle on this GPU: {exc}") from None
        return cls.value


def _data_type(cudnn, dtype: str):
    return {"float16": cudnn.data_type.HALF, "bfloat16": cudnn.data_type.BFLOAT16, "float32": cudnn.data_type.FLOAT}[dtype]


def _tensor(graph, cudnn, name: str, layout, dtype: str):
    dims, strides = layout
    return graph.tensor(name=name, dim=dims, stride=strides, data_type=_data_type(cudnn, dtype))


_ACTIVATIONS = {
    "relu": lambda g, x: g.relu(input=x),
    "sigmoid": lambda g, x: g.sigmoid(input=x),
    "tanh": lambda g, x: g.tanh(input=x),
    "gelu": lambda g, x: g.gelu(input=x),
    "gelu_tanh": lambda g, x: g.gelu_approx_tanh(input=x),
    "swish": lambda g, x: g.swish(input=x),
}


def _conv_graph(graph, cudnn, call: ConvFprop):
    """The conv and its epilogue nodes; (tensors the call reads, in order; the output)."""
    x, w = _tensor(graph, cudnn, "x", call.x(), call.dtype), _tensor(graph, cudnn, "w", call.w(), call.dtype)
    reads = [x, w]
    y = graph.conv_fprop(
        image=x, weight=w, pre_padding=list(call.pads), post_padding=list(call.pads), stride=list(call.strides),
        dilation=[1, 1], compute_data_type=cudnn.data_type.FLOAT, name="conv",
    )
    for i, node in enumerate(call.epilogue):
        if node == "bias":
            operand = _tensor(graph, cudnn, f"bias{i}", call.bias(), call.dtype)
            y = graph.bias(input=y, bias=operand)
        elif node == "add":
            operand = _tensor(graph, cudnn, f"residual{i}", call.y(), call.dtype)
            y = graph.add(a=y, b=operand)
        else:
            operand = None
            y = _ACTIVATIONS[node](graph, y)
        if operand is not None:
            reads.append(operand)
    dims, strides = call.y()
    y.set_output(True).set_dim(dims).set_stride(strides).set_data_type(_data_type(cudnn, call.dtype))
    return reads, y


def _sdpa_graph(graph, cudnn, call: Sdpa):
    q, k, v = (_tensor(graph, cudnn, role, layout(call), call.dtype) for role, layout in (("q", Sdpa.q), ("k", Sdpa.k), ("v", Sdpa.v)))
    reads = [q, k, v]
    options = {"generate_stats": False, "attn_scale": float(call.scale)}
    if call.bias:
        reads.append(_tensor(graph, cudnn, "bias", call.bias_tensor(), call.dtype))
        options["bias"] = reads[-1]
    if call.causal and call.s_q == call.s_k:  # both alignments agree: cuDNN's plain causal mask, which every engine takes
        options["use_causal_mask"] = True
    elif call.causal:  # bottom-right aligned, as optc's: query i sees keys up to i + s_k - s_q
        options["diagonal_alignment"] = cudnn.diagonal_alignment.BOTTOM_RIGHT
        options["diagonal_band_right_bound"] = 0
    o, _ = graph.sdpa(q=q, k=k, v=v, name="sdpa", **options)
    dims, strides = call.o()
    o.set_output(True).set_dim(dims).set_stride(strides).set_data_type(_data_type(cudnn, call.dtype))
    return reads, o


def _deselected_notes(cudnn, call) -> list:
    """Engines whose numerics are not optc's: f16 reductions, and TF32 for an f32 conv."""
    notes = [cudnn.numerical_note.REDUCED_PRECISION_REDUCTION]
    if call.dtype == "float32":
        notes += [cudnn.numerical_note.TENSOR_CORE, cudnn.numerical_note.DOWN_CONVERT_INPUTS]
    return notes


class CudnnPlan:
    """The graph of one call on this GPU with cuDNN's execution plans for it (heuristic modes
    A then FALLBACK, numerics as optc's); `check` builds one, `run` enqueues it."""

    def __init__(self, call: ConvFprop | Sdpa):
        self.call = call
        cudnn = self._cudnn = _module()
        self.handle = _Handle.get()
        try:
            self.graph = cudnn.pygraph(
                handle=self.handle, io_data_type=_data_type(cudnn, call.dtype),
                intermediate_data_type=cudnn.data_type.FLOAT, compute_data_type=cudnn.data_type.FLOAT,
            )
            self.reads, self.output = (_conv_graph if isinstance(call, ConvFprop) else _sdpa_graph)(self.graph, cudnn, call)
            self.graph.validate()
            self.graph.build_operation_graph()
            self.graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
            self.graph.deselect_numeric_notes(_deselected_notes(cudnn, call))
            self.graph.check_support()
        except Exception as exc:  # cudnnGraphNotSupportedError, or the frontend's ValueError/RuntimeError
            raise LibraryError(f"cuDNN {library_version()} has no engine for {call}: {exc}") from None
        self._built: set[int] = set()
        self._indices: dict[str, int] = {}

    def names(self) -> list[str]:
        """The names of the graph's execution plans, in the heuristic's order."""
        return [self.graph.get_plan_name_at_index(i) for i in range(self.graph.get_execution_plan_count())]

    def _build(self, index: int) -> int:
        """Build plan `index` (once) and return the workspace it needs."""
        if index not in self._built:
            self.graph.build_plan_at_index(index)
            self._built.add(index)
        return int(self.graph.get_workspace_size_plan_at_index(index))

    def choices(self, count: int, max_workspace: int) -> list[Choice]:
        """The first `count` plans that build here and need at most `max_workspace` bytes,
        best first (a plan that fails to build is passed over)."""
        found: list[Choice] = []
        for index, name in enumerate(self.names()):
            if len(found) == count:
                break
            try:
                workspace = self._build(index)
            except Exception:  # an engine this GPU cannot build (runtime compilation failed, say)
                continue
            if workspace <= max_workspace:
                found.append(Choice(name, workspace, len(found)))
        return found

    def _index(self, choice: Choice) -> int:
        """Where cuDNN lists the plan named `choice` for this call (asked once per name)."""
        if choice.name not in self._indices:
            names = self.names()
            if choice.name not in names:
                raise LibraryError(f"cuDNN {library_version()} offers no plan '{choice.name}' for {self.call} (it offers {', '.join(names) or 'none'})")
            self._indices[choice.name] = names.index(choice.name)
        return self._indices[choice.name]

    def check(self, choice: Choice) -> int:
        """The workspace `choice` needs with this cuDNN, its plan built; LibraryError when this
        cuDNN has no such plan for the call or cannot build it."""
        index = self._index(choice)
        try:
            return self._build(index)
        except Exception as exc:
            raise LibraryError(f"cuDNN {library_version()} cannot build plan '{choice.name}' for {self.call}: {exc}") from None

    def run(self, choice: Choice, *pointers: int, workspace: int = 0, workspace_bytes: int = 0, stream=None) -> None:
        """Enqueue the call on `stream`: `pointers` are the operands `call.reads()` names, then
        the output (device addresses as integers)."""
        index = self._index(choice)
        needed = self._build(index)
        if needed > workspace_bytes:
            raise LibraryError(f"cuDNN plan '{choice.name}' needs {needed} bytes of workspace, got {workspace_bytes}")
        if len(pointers) != len(self.reads) + 1:
            raise LibraryError(f"cuDNN {self.call.op} takes {len(self.reads) + 1} pointers, got {len(pointers)}")
        # plain ints: the frontend takes anything else for a framework's tensor (and imports torch)
        pack = {tensor: int(pointer) for tensor, pointer in zip([*self.reads, self.output], pointers)}
        try:
            self._cudnn.set_stream(self.handle, 0 if stream is None else int(stream.handle))
            self.graph.execute_plan_at_index(pack, int(workspace), index, handle=self.handle)
        except Exception as exc:
            raise LibraryError(f"cuDNN execution failed for {self.call} (plan '{choice.name}'): {exc}") from None

    def close(self) -> None:
        self.graph = None
        self.reads, self.output = [], None


Plan = CudnnPlan


def heuristic(call: ConvFprop | Sdpa, count: int, max_workspace: int) -> tuple[Choice, ...]:
    """cuDNN's plans for `call` on this GPU (at most `count` that build, each needing at most
    `max_workspace` bytes), asked once per process: the tuner and the engine build that
    follows it resolve a tactic's `plan = i` to the same name. A graph cuDNN has no engine
    for raises its LibraryError each time it is asked, without building the graph again
    (every candidate of such a kernel asks)."""
    answer = _heuristic(call, count, max_workspace)
    if isinstance(answer, LibraryError):
        raise LibraryError(str(answer))
    return answer


@functools.cache
def _heuristic(call: ConvFprop | Sdpa, count: int, max_workspace: int) -> tuple[Choice, ...] | LibraryError:
    try:
        plan = CudnnPlan(call)
    except LibraryError as exc:
        return exc
    try:
        return tuple(plan.choices(count, max_workspace))
    finally:
        plan.close()
