"""Offsets in one arena for buffers whose live intervals are known ahead of time.

The input is what the launch order says about each intermediate buffer: its size and the
first and last step (launch index) at which it is live, both inclusive: written at
`first`, last read at `last`. Two buffers live at a common step must not share bytes; any
others may. The smallest arena is NP-hard to find (this is dynamic storage allocation),
but simple greedy placements come within a few percent of the lower bound on real
networks (Pisarchyk & Lee, "Efficient Memory Management for Deep Neural Net Inference",
2020, the planners of TFLite), so the planner runs a handful of them and keeps the
smallest arena. A strategy is
- an *order* in which blocks are placed: largest first (greedy by size), largest
  size × lifetime first, or step by step from the step with the most live bytes down
  (greedy by breadth), and
- a *fit*: the lowest offset that is free of every block already placed and live at a
  common step (first fit), or the smallest such gap (best fit).

Shared storage. A *view* (a reshape and its kin) is always the same bytes as its base: the
two form one block whose interval spans both. An *in-place candidate* says that the op
writing a buffer may write it over the storage of one of its inputs (an elementwise op
that reads each element before writing the same position); the planner takes it when that
storage dies at exactly that op, nothing else is written into it there, and it is large
enough. A taken candidate removes one block from the peak. Buffers of one block share one
offset.

Statistics. Every size is first rounded up to the alignment, since that is what a buffer
really occupies in an arena whose offsets are all aligned, so the three numbers compare
like with like. The *naive* size is what an arena without reuse needs (one block per
buffer, views free); the *lower bound* is the most bytes live at one step, which no
placement can beat (given the in-place decisions); arena / lower bound is what the
placement loses.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

BufferId = Hashable
MIB = 1 << 20


@dataclass(frozen=True)
class Buffer:
    """One intermediate tensor: `size` bytes, live from step `first` to step `last`."""

    id: BufferId
    size: int
    first: int
    last: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"buffer {self.id!r} has a negative size ({self.size} bytes)")
        if self.last < self.first:
            raise ValueError(
                f"buffer {self.id!r} is last used at step {self.last}, before it is written at step {self.first}"
            )


@dataclass(frozen=True)
class MemoryPlan:
    """Where each buffer lives in the arena, and how good that is."""

    offsets: Mapping[BufferId, int]
    """Byte offset of every buffer, in the order the buffers were given."""
    arena_bytes: int
    naive_bytes: int
    lower_bound_bytes: int
    alignment: int
    strategy: str
    """The name (a key of `STRATEGIES`) of the placement that won."""
    in_place: tuple[tuple[BufferId, BufferId], ...]
    """The in-place candidates taken, as (output, input)."""

    @property
    def ratio(self) -> float:
        """Arena / lower bound: 1.0 is a perfect placement."""
        return self.arena_bytes / self.lower_bound_bytes if self.lower_bound_bytes else 1.0


@dataclass
class _Block:
    """Storage shared by one or more buffers: a base, its views, and the outputs written
    over it in place. `size` is already rounded up to the alignment."""

    members: list[Buffer]
    size: int
    first: int
    last: int


def _round_up(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


class _Storage:
    """Buffers grouped into blocks: a union-find over buffer ids, each block kept under
    the id of its root, in a dict whose order depends only on the input (determinism)."""

    def __init__(self, buffers: Sequence[Buffer], alignment: int):
        self._parent: dict[BufferId, BufferId] = {b.id: b.id for b in buffers}
        self.blocks = {b.id: _Block([b], _round_up(b.size, alignment), b.first, b.last) for b in buffers}

    def root(self, id: BufferId) -> BufferId:
        while self._parent[id] != id:
            self._parent[id] = self._parent[self._parent[id]]
            id = self._parent[id]
        return id

    def block(self, id: BufferId) -> _Block:
        return self.blocks[self.root(id)]

    def merge(self, a: BufferId, b: BufferId) -> None:
        """One block from the blocks of `a` and `b`, kept under `a`'s key."""
        kept_id, gone_id = self.root(a), self.root(b)
        if kept_id == gone_id:
            return
        kept, gone = self.blocks[kept_id], self.blocks.pop(gone_id)
        kept.members += gone.members
        kept.size = max(kept.size, gone.size)
        kept.first, kept.last = min(kept.first, gone.first), max(kept.last, gone.last)
        self._parent[gone_id] = kept_id


def _can_write_in_place(storage: _Storage, output: Buffer, input_id: BufferId) -> bool:
    """`output` may take the storage of `input_id` when that storage dies at the very step
    that writes `output` (so only the op itself still reads it), no other buffer is
    written into it at that step, and it is at least as large as the output's block."""
    step = output.first
    source, target = storage.block(input_id), storage.block(output.id)
    return (
        source is not target
        and target.first == step
        and source.last == step
        and all(m.first < step for m in source.members if m.last == step)
        and target.size <= source.size
    )


def _take_in_place(
    storage: _Storage, by_id: Mapping[BufferId, Buffer], candidates: Sequence[tuple[BufferId, BufferId]]
) -> tuple[tuple[BufferId, BufferId], ...]:
    """Take the candidates that are legal, in launch order so that a chain of elementwise
    ops can pass one block down the chain."""
    taken = []
    for output_id, input_id in sorted(candidates, key=lambda c: by_id[c[0]].first):
        if _can_write_in_place(storage, by_id[output_id], input_id):
            storage.merge(input_id, output_id)
            taken.append((output_id, input_id))
    return tuple(taken)


def _peak(blocks: Sequence[_Block]) -> int:
    """The most bytes live at one step: a sweep that adds a block at its first step and
    removes it after its last (removals first where both fall on one step)."""
    events = sorted([(b.first, 1, b.size) for b in blocks] + [(b.last + 1, 0, -b.size) for b in blocks])
    live = peak = 0
    for _, _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak


def _conflicts(blocks: Sequence[_Block]) -> list[list[int]]:
    """For each block, the blocks live at some common step. One sweep by first step: the
    blocks still active when a block starts are exactly those that overlap it."""
    result: list[list[int]] = [[] for _ in blocks]
    active: list[int] = []
    for i in sorted(range(len(blocks)), key=lambda i: (blocks[i].first, i)):
        active = [j for j in active if blocks[j].last >= blocks[i].first]
        for j in active:
            result[i].append(j)
            result[j].append(i)
        active.append(i)
    return result


# Orders: a permutation of the block indices; ties fall back to the index (determinism).
Order = Callable[[Sequence[_Block]], list[int]]


def _by_size(blocks: Sequence[_Block]) -> list[int]:
    """Largest first: the big blocks fix the shape of the arena, small ones fill the holes."""
    return sorted(range(len(blocks)), key=lambda i: (-blocks[i].size, blocks[i].first, i))


def _by_area(blocks: Sequence[_Block]) -> list[int]:
    """Largest size × lifetime first: long-lived blocks are placed before they can be
    squeezed above many short ones."""
    return sorted(range(len(blocks)), key=lambda i: (-blocks[i].size * (blocks[i].last - blocks[i].first + 1), i))


def _by_breadth(blocks: Sequence[_Block]) -> list[int]:
    """Greedy by breadth: visit the steps from the one with the most live bytes down, and
    at each the blocks live there not yet ordered, largest first. The fullest step is
    packed first, while the arena is still empty."""
    steps = []
    active: list[int] = []
    starts = sorted(range(len(blocks)), key=lambda i: (blocks[i].first, i))
    for k, i in enumerate(starts):
        step = blocks[i].first
        active = [j for j in active if blocks[j].last >= step] + [i]
        if k + 1 == len(starts) or blocks[starts[k + 1]].first != step:
            steps.append((-sum(blocks[j].size for j in active), step, list(active)))
    order: dict[int, None] = {}
    for _, _, live in sorted(steps, key=lambda s: s[:2]):
        order.update(dict.fromkeys(sorted(live, key=lambda j: (-blocks[j].size, j))))
    return list(order)


# Fits: given the free gaps (start, end or None for the unbounded one above every placed
# block), the offset for a block of `size` bytes.
Fit = Callable[[list[tuple[int, int | None]], int], int]


def _first_fit(gaps: list[tuple[int, int | None]], size: int) -> int:
    return next(start for start, end in gaps if end is None or end - start >= size)


def _best_fit(gaps: list[tuple[int, int | None]], size: int) -> int:
    """The tightest bounded gap that fits, leaving big gaps for big blocks."""
    fitting = [(end - start, start) for start, end in gaps if end is not None and end - start >= size]
    return min(fitting)[1] if fitting else gaps[-1][0]


STRATEGIES: dict[str, tuple[Order, Fit]] = {
    "size, first fit": (_by_size, _first_fit),
    "size, best fit": (_by_size, _best_fit),
    "breadth, first fit": (_by_breadth, _first_fit),
    "breadth, best fit": (_by_breadth, _best_fit),
    "area, first fit": (_by_area, _first_fit),
    "area, best fit": (_by_area, _best_fit),
}
"""Every placement the planner tries, by name; the first of the smallest arenas wins."""


def _gaps(taken: Iterable[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """The free ranges between taken byte ranges, lowest first, the last one unbounded."""
    gaps: list[tuple[int, int | None]] = []
    cursor = 0
    for start, end in sorted(taken):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    gaps.append((cursor, None))
    return gaps


def _place(blocks: Sequence[_Block], order: list[int], conflicts: list[list[int]], fit: Fit) -> list[int]:
    """Offsets for the blocks placed one by one in `order`, each clear of the blocks
    already placed that it conflicts with. Sizes are aligned, so every offset is too."""
    offsets: list[int | None] = [None] * len(blocks)
    for i in order:
        taken = ((offsets[j], offsets[j] + blocks[j].size) for j in conflicts[i] if offsets[j] is not None)
        offsets[i] = fit(_gaps(taken), blocks[i].size)
    return offsets  # type: ignore[return-value]


def _arena(blocks: Sequence[_Block], offsets: Sequence[int]) -> int:
    return max((o + b.size for b, o in zip(blocks, offsets)), default=0)


def _best_placement(blocks: Sequence[_Block], strategies: Sequence[str]) -> tuple[str, list[int]]:
    """The first of the named strategies whose arena is smallest, and its offsets."""
    conflicts = _conflicts(blocks)
    placements = {}
    for name in strategies:
        order, fit = STRATEGIES[name]
        placements[name] = _place(blocks, order(blocks), conflicts, fit)
    strategy = min(strategies, key=lambda name: _arena(blocks, placements[name]))
    return strategy, placements[strategy]


def _check_input(
    buffers: Sequence[Buffer],
    aliases: Sequence[tuple[BufferId, BufferId]],
    in_place: Sequence[tuple[BufferId, BufferId]],
    alignment: int,
    strategies: Sequence[str],
) -> None:
    """Reject what the planner cannot mean anything for, naming the culprit."""
    if alignment < 1:
        raise ValueError(f"alignment must be a positive number of bytes, got {alignment}")
    ids: set[BufferId] = set()
    for b in buffers:
        if b.id in ids:
            raise ValueError(f"buffer {b.id!r} is given twice")
        ids.add(b.id)
    for kind, pairs in (("alias", aliases), ("in-place candidate", in_place)):
        for pair in pairs:
            for id in pair:
                if id not in ids:
                    raise ValueError(f"{kind} {pair!r} names {id!r}, which is not a buffer")
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    if not strategies:
        raise ValueError("at least one strategy is needed")


def plan_memory(
    buffers: Iterable[Buffer],
    aliases: Sequence[tuple[BufferId, BufferId]] = (),
    in_place: Sequence[tuple[BufferId, BufferId]] = (),
    alignment: int = 256,
    strategies: Sequence[str] = tuple(STRATEGIES),
) -> MemoryPlan:
    """Offsets for `buffers` in one arena.

    `aliases` are (view, base) pairs that always share storage; `in_place` are (output,
    input) pairs that may, taken when legal (see the module docstring). Every strategy of
    `strategies` is tried; the plan keeps the first with the smallest arena. The result
    depends only on the arguments, their order included.
    """
    buffers = list(buffers)
    _check_input(buffers, aliases, in_place, alignment, strategies)
    storage = _Storage(buffers, alignment)
    for view, base in aliases:
        storage.merge(base, view)
    naive = sum(b.size for b in storage.blocks.values())
    taken = _take_in_place(storage, {b.id: b for b in buffers}, in_place)
    blocks = list(storage.blocks.values())
    strategy, offsets = _best_placement(blocks, strategies)
    block_offset = dict(zip(storage.blocks, offsets))
    return MemoryPlan(
        offsets={b.id: block_offset[storage.root(b.id)] for b in buffers},
        arena_bytes=_arena(blocks, offsets),
        naive_bytes=naive,
        lower_bound_bytes=_peak(blocks),
        alignment=alignment,
        strategy=strategy,
        in_place=taken,
    )


def format_plan(plan: MemoryPlan) -> str:
    """The plan in a few lines for a human: the arena beside the naive size and the lower
    bound, in MiB and as ratios (what `optc-run` and the engine report print)."""

    def mib(n: int) -> str:
        return f"{n / MIB:9.2f} MiB"

    naive_ratio = plan.naive_bytes / plan.arena_bytes if plan.arena_bytes else 1.0
    return "\n".join(
        [
            f"memory plan: {len(plan.offsets)} buffers ({len(plan.in_place)} written in place), "
            f"placement '{plan.strategy}', {plan.alignment}-byte alignment",
            f"  arena        {mib(plan.arena_bytes)}  {plan.ratio:.3f}x the lower bound",
            f"  lower bound  {mib(plan.lower_bound_bytes)}  the most bytes live at one step",
            f"  naive        {mib(plan.naive_bytes)}  {naive_ratio:.2f}x the arena: every buffer its own bytes",
        ]
    )
