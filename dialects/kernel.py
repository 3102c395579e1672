"""The `kernel` dialect: GPU kernels as symbols, and the host plan that launches them.

`outline-kernels` makes every kernel of a `fused`-level module a
`kernel.func` that holds exactly the one op it computes (a fused op, or a graph op left
on its own), and `@main` calls it with `kernel.launch`, in launch order:

    kernel.func @k0_fused_conv(%x: tensor<..>, %w: tensor<..>) -> tensor<..> {
      %y = fused.conv %x, %w ... { epilogue }
      kernel.return %y : tensor<..>
    }
    func.func @main(...) {
      %y = kernel.launch @k0_fused_conv(%x, %w) : (...) -> tensor<..>
    }

`configure-kernels` records how each kernel is launched as a typed attribute,

    kernel.func @k0_fused_elementwise(...) -> ... attributes {launch = #kernel.launch<tactic = grid_stride,
        grid = [512, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>}

(the tactic names the generator's variant, `tile` holds its tuning parameters: together
what an autotuner chooses), and
`plan-memory` gives every launch result a byte offset in the one activation arena
(`kernel.launch ... {arena_offsets = array<i64: 0>}`) and `@main` the arena's size and how
it compares with the naive sum and the lower bound (`kernel.arena`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DictionaryAttr,
    FunctionType,
    IntAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    SymbolRefAttr,
    i64,
)
from xdsl.dialects.utils.format import parse_func_op_like, print_func_op_like
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import (
    CallableOpInterface,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    SymbolOpInterface,
    SymbolTable,
)
from xdsl.utils.exceptions import VerifyException

from dialects.graph import ConstantOp, WeightOp
from dialects.graph.base import is_free_view

FREE_OPS = (ConstantOp, WeightOp, func.ReturnOp)
"""Top-level ops that launch nothing besides the free views (`graph.base.FreeView`):
constants, weights and the return."""


def launches_kernel(op: Operation) -> bool:
    """Whether a top-level op of a `fused`-level `@main` is one kernel launch."""
    return not (isinstance(op, FREE_OPS) or is_free_view(op))


def kernel_ops(module: ModuleOp) -> list[Operation]:
    """The ops of `@main` that are kernels, in launch order (none without an `@main`)."""
    for fn in module.ops:
        if isinstance(fn, func.FuncOp) and fn.sym_name.data == "main":
            return [op for op in fn.body.block.ops if launches_kernel(op)]
    return []


LAUNCH_ATTR = "launch"
"""The name of a configured kernel.func's `#kernel.launch` attribute."""


TACTIC_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""What a tactic may be called: a lower-case identifier (it is printed bare in the IR)."""


@irdl_attr_definition
class LaunchAttr(ParametrizedAttribute):
    """How a kernel is launched: the tactic (which of its generator's variants runs it,
    `passes/codegen/generator.py`), grid and block (x, y, z), dynamic shared memory in
    bytes, and the tactic's tile parameters (name → integer). An autotuner chooses the
    tactic and its parameters; the generator's emit takes exactly what this says.

        #kernel.launch<tactic = grid_stride, grid = [512, 1, 1], block = [256, 1, 1], shared = 0, tile = {vector = 4}>
    """

    name = "kernel.launch"
    tactic: StringAttr
    grid: DenseArrayBase
    block: DenseArrayBase
    shared: IntAttr
    tile: DictionaryAttr

    def __init__(
        self, tactic: str, grid: Sequence[int], block: Sequence[int], shared: int = 0, tile: dict[str, int] | None = None
    ):
        tile_attrs = {k: IntegerAttr(v, i64) for k, v in sorted((tile or {}).items())}
        super().__init__(
            StringAttr(tactic),
            DenseArrayBase.from_list(i64, _dim3(grid, "grid")),
            DenseArrayBase.from_list(i64, _dim3(block, "block")),
            IntAttr(shared),
            DictionaryAttr(tile_attrs),
        )

    @property
    def tactic_name(self) -> str:
        return self.tactic.data

    @property
    def grid_dims(self) -> tuple[int, int, int]:
        return tuple(self.grid.get_values())

    @property
    def block_dims(self) -> tuple[int, int, int]:
        return tuple(self.block.get_values())

    @property
    def shared_bytes(self) -> int:
        return self.shared.data

    @property
    def tile_params(self) -> dict[str, int]:
        return {k: v.value.data for k, v in self.tile.data.items()}

    def verify(self) -> None:
        if not TACTIC_NAME.fullmatch(self.tactic_name):
            raise VerifyException(f"#kernel.launch tactic '{self.tactic_name}' is not a lower-case identifier ([a-z][a-z0-9_]*)")
        for what, dims in (("grid", self.grid_dims), ("block", self.block_dims)):
            if len(dims) != 3 or any(d < 1 for d in dims):
                raise VerifyException(f"#kernel.launch {what} must be three positive sizes, got {list(dims)}")
        threads = self.block_dims[0] * self.block_dims[1] * self.block_dims[2]
        if threads > 1024:
            raise VerifyException(f"#kernel.launch block of {threads} threads exceeds CUDA's 1024")
        if self.shared_bytes < 0:
            raise VerifyException(f"#kernel.launch shared memory must be non-negative, got {self.shared_bytes}")
        for key, value in self.tile.data.items():
            if not isinstance(value, IntegerAttr):
                raise VerifyException(f"#kernel.launch tile parameter '{key}' must be an integer, got {value}")

    def print_parameters(self, printer: Printer) -> None:
        tile = ", ".join(f"{k} = {v}" for k, v in self.tile_params.items())
        printer.print_string(
            f"<tactic = {self.tactic_name}, grid = {list(self.grid_dims)}, block = {list(self.block_dims)}, "
            f"shared = {self.shared_bytes}, tile = {{{tile}}}>"
        )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def dims(keyword: str) -> list[int]:
            parser.parse_keyword(keyword)
            parser.parse_punctuation("=")
            return parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parser.parse_integer)

        def tile_entry() -> tuple[str, int]:
            key = parser.parse_identifier()
            parser.parse_punctuation("=")
            return key, parser.parse_integer()

        with parser.in_angle_brackets():
            if parser.parse_optional_keyword("tactic") is None:
                parser.raise_error("#kernel.launch starts with its tactic: #kernel.launch<tactic = NAME, grid = [..], ...>")
            parser.parse_punctuation("=")
            start = parser.pos
            tactic = parser.parse_identifier(" (the tactic's name, a lower-case identifier)")
            if not TACTIC_NAME.fullmatch(tactic):
                why = f"#kernel.launch tactic '{tactic}' is not a lower-case identifier ([a-z][a-z0-9_]*)"
                parser.raise_error(why, start, start + len(tactic))
            parser.parse_punctuation(",")
            grid = dims("grid")
            parser.parse_punctuation(",")
            block = dims("block")
            parser.parse_punctuation(",")
            parser.parse_keyword("shared")
            parser.parse_punctuation("=")
            shared = parser.parse_integer()
            parser.parse_punctuation(",")
            parser.parse_keyword("tile")
            parser.parse_punctuation("=")
            tile = dict(parser.parse_comma_separated_list(parser.Delimiter.BRACES, tile_entry))
        return list(LaunchAttr(tactic, _padded(grid), _padded(block), shared, tile).parameters)


def _padded(dims: Sequence[int]) -> list[int]:
    return [*dims, *[1] * (3 - len(dims))] if len(dims) <= 3 else list(dims)


def _dim3(dims: Sequence[int] | int, what: str) -> list[int]:
    dims = [dims] if isinstance(dims, int) else list(dims)
    if not 1 <= len(dims) <= 3:
        raise ValueError(f"a launch {what} has 1 to 3 dimensions, got {dims}")
    return _padded(dims)


class _KernelCallable(CallableOpInterface):
    @classmethod
    def get_callable_region(cls, op: Operation) -> Region:
        return op.body

    @classmethod
    def get_argument_types(cls, op: Operation) -> tuple[Attribute, ...]:
        return op.function_type.inputs.data

    @classmethod
    def get_result_types(cls, op: Operation) -> tuple[Attribute, ...]:
        return op.function_type.outputs.data


@irdl_op_definition
class FuncOp(IRDLOperation):
    """One kernel: its arguments are what it reads (activations, weights, small constants),
    its body is the one op it computes and a `kernel.return`."""

    name = "kernel.func"
    body = region_def("single_block")
    sym_name = prop_def(StringAttr)
    function_type = prop_def(FunctionType)
    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface(), _KernelCallable())

    def __init__(self, name: str, inputs: Sequence[Attribute], outputs: Sequence[Attribute], region: Region):
        props = {"sym_name": StringAttr(name), "function_type": FunctionType.from_lists(inputs, outputs)}
        super().__init__(properties=props, regions=[region])

    @property
    def computation(self) -> Operation:
        """The op this kernel computes."""
        return self.body.block.first_op

    @property
    def launch(self) -> LaunchAttr | None:
        """How the kernel is launched, once `configure-kernels` has said."""
        return self.attributes.get(LAUNCH_ATTR)

    def verify_(self) -> None:
        block = self.body.block
        if tuple(block.arg_types) != self.function_type.inputs.data:
            raise VerifyException(f"'kernel.func' @{self.sym_name.data} has block arguments that differ from its inputs")
        launch = self.attributes.get(LAUNCH_ATTR)
        if launch is not None and not isinstance(launch, LaunchAttr):
            raise VerifyException(f"'kernel.func' @{self.sym_name.data} has a '{LAUNCH_ATTR}' attribute that is not a #kernel.launch")
        ops = list(block.ops)
        if len(ops) != 2 or not isinstance(ops[1], ReturnOp):
            names = ", ".join(op.name for op in ops)
            raise VerifyException(
                f"'kernel.func' @{self.sym_name.data} must hold exactly one op and kernel.return, got {names}"
            )

    @classmethod
    def parse(cls, parser: Parser) -> FuncOp:
        name, inputs, outputs, region, extra, _, _ = parse_func_op_like(
            parser, reserved_attr_names=("sym_name", "function_type")
        )
        op = FuncOp(name, inputs, outputs, region)
        if extra is not None:
            op.attributes |= extra.data
        return op

    def print(self, printer: Printer) -> None:
        print_func_op_like(
            printer,
            self.sym_name,
            self.function_type,
            self.body,
            self.attributes,
            reserved_attr_names=("sym_name", "function_type"),
        )


@irdl_op_definition
class ReturnOp(IRDLOperation):
    name = "kernel.return"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(FuncOp))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])

    def verify_(self) -> None:
        kernel = self.parent_op()
        if tuple(self.values.types) != kernel.function_type.outputs.data:
            raise VerifyException(f"'kernel.return' in @{kernel.sym_name.data} returns types that differ from its results")


@irdl_op_definition
class LaunchOp(IRDLOperation):
    """`%r = kernel.launch @k3(%a, %w) : (...) -> ...`: run a kernel on these values."""

    name = "kernel.launch"
    callee = prop_def(SymbolRefAttr)
    arena_offsets = opt_prop_def(DenseArrayBase, prop_name="arena_offsets")
    """Byte offset of each result in the activation arena (set by `plan-memory`)."""
    args = var_operand_def()
    outputs = var_result_def()
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$callee `(` $args `)` attr-dict `:` functional-type($args, $outputs)"

    def __init__(self, callee: str, args: Sequence[SSAValue], result_types: Sequence[Attribute]):
        super().__init__(operands=[list(args)], result_types=[list(result_types)], properties={"callee": SymbolRefAttr(callee)})

    def verify_(self) -> None:
        kernel = SymbolTable.lookup_symbol(self, self.callee)
        if not isinstance(kernel, FuncOp):
            raise VerifyException(f"'kernel.launch' names @{self.callee.root_reference.data}, which is not a kernel.func")
        ft = kernel.function_type
        if self.arena_offsets is not None and len(self.arena_offsets.get_values()) != len(self.outputs):
            raise VerifyException(
                f"'kernel.launch' of @{kernel.sym_name.data} has {len(self.arena_offsets.get_values())} arena offsets "
                f"for {len(self.outputs)} results"
            )
        if tuple(self.args.types) != ft.inputs.data or tuple(self.outputs.types) != ft.outputs.data:
            raise VerifyException(
                f"'kernel.launch' of @{kernel.sym_name.data} has types ({', '.join(map(str, self.args.types))}) -> "
                f"({', '.join(map(str, self.outputs.types))}), the kernel takes {ft}"
            )


Kernel = Dialect("kernel", [FuncOp, ReturnOp, LaunchOp], [LaunchAttr])
