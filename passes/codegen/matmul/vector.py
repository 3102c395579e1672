"""Vectorised epilogue stores for the tensor-core matmul: eight accumulator elements along N
(n = nb .. nb + 7, nb a multiple of 8) computed one by one, then each result written with
16-byte (or 8-byte for 1-byte types) vector stores, when it is *proven* that for every
output the eight elements land on eight consecutive, 8-aligned addresses under one and the
same store condition.

The proof is by evaluation, not by pattern: the store index and conditions printed by the
shared epilogue printer (C expressions in bz, m, n, f: views, transposes, splits and slices
as index arithmetic) are evaluated with C integer semantics over every (bz, m, n) of the
accumulator with numpy. A plain store (`out[f]`) needs no evaluation. Where the proof
fails, or the output is too large to evaluate quickly, or an expression reads anything but
bz, m, n, f, the kernel keeps scalar stores: never a wrong vector store.
"""

from __future__ import annotations

import re

import numpy as np

from passes.codegen.matmul.problem import EpilogueCode, Problem, _f_line

VECTOR = 8
"""Elements per vector store (16 bytes of a 16-bit output)."""
MAX_PROOF_ELEMENTS = 1 << 26
"""Accumulators larger than this keep scalar stores unless the store is the plain `out[f]`."""
_CHUNK = 1 << 20


class _C:
    """An int64 numpy array with C's integer division and remainder (truncating)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = np.asarray(v)

    @staticmethod
    def _of(x):
        return x.v if isinstance(x, _C) else x

    def __add__(self, o):
        return _C(self.v + self._of(o))

    __radd__ = __add__

    def __sub__(self, o):
        return _C(self.v - self._of(o))

    def __rsub__(self, o):
        return _C(self._of(o) - self.v)

    def __mul__(self, o):
        return _C(self.v * self._of(o))

    __rmul__ = __mul__

    def __neg__(self):
        return _C(-self.v)

    def __truediv__(self, o):
        a, b = self.v, self._of(o)
        q = np.abs(a) // np.abs(b)
        return _C(np.where((a < 0) != (np.asarray(b) < 0), -q, q))

    def __mod__(self, o):
        b = self._of(o)
        return _C(self.v - (self / b).v * b)

    def __lt__(self, o):
        return _C(self.v < self._of(o))

    def __le__(self, o):
        return _C(self.v <= self._of(o))

    def __gt__(self, o):
        return _C(self.v > self._of(o))

    def __ge__(self, o):
        return _C(self.v >= self._of(o))

    def __eq__(self, o):  # noqa: PLR0124
        return _C(self.v == self._of(o))

    def __ne__(self, o):
        return _C(self.v != self._of(o))

    __hash__ = None


_ALLOWED = re.compile(r"^[\sbzmnf0-9()+\-*/%<>=!]*$")


def _python(expr: str) -> str | None:
    """`expr` as a Python expression over _C values, or None when it holds anything else
    than bz, m, n, f, integer literals and + - * / % comparisons."""
    expr = re.sub(r"(\d+)(LL|ll|L|U|u)\b", r"\1", expr)
    expr = re.sub(r"\((int|long long)\)", "", expr)
    if not _ALLOWED.match(expr) or "&&" in expr or "||" in expr:
        return None
    if re.search(r"[a-z_]\w*", expr) and set(re.findall(r"[A-Za-z_]\w*", expr)) - {"bz", "m", "n", "f"}:
        return None
    return expr


def _proven(problem: Problem, code: EpilogueCode) -> bool:
    """Every store of every group of 8 elements along N goes to 8 consecutive 8-aligned
    elements, under the same conditions."""
    m_, n_ = problem.m, problem.n
    if n_ % VECTOR:
        return False
    if all(s.flat == "f" and not s.conds for s in code.stores):
        return True
    batch = max(1, problem.batch_count)
    if batch * m_ * n_ > MAX_PROOF_ELEMENTS:
        return False
    exprs = []
    for s in code.stores:
        flat = _python(s.flat)
        conds = [_python(c) for c in s.conds]
        if flat is None or None in conds:
            return False
        exprs.append((compile(flat, "<flat>", "eval"), [compile(c, "<cond>", "eval") for c in conds]))
    rows = batch * m_
    step = max(1, _CHUNK // n_)
    n = np.arange(n_, dtype=np.int64)[None, :]
    for r0 in range(0, rows, step):
        r = np.arange(r0, min(rows, r0 + step), dtype=np.int64)[:, None]
        bz, m = r // m_, r % m_
        f = (bz * m_ + m) * n_ + n
        names = {"bz": _C(bz), "m": _C(m), "n": _C(np.broadcast_to(n, f.shape)), "f": _C(f)}
        for flat_code, cond_codes in exprs:
            flat = np.broadcast_to(eval(flat_code, {}, names).v, f.shape).reshape(len(r), n_ // VECTOR, VECTOR)  # noqa: S307
            ok = np.ones(flat.shape, dtype=bool)
            for c in cond_codes:
                ok &= np.broadcast_to(eval(c, {}, names).v, f.shape).reshape(flat.shape)  # noqa: S307
            if not (ok == ok[..., :1]).all():
                return False
            live = ok[..., 0]
            base = flat[..., 0]
            if not (((flat == base[..., None] + np.arange(VECTOR)) | ~ok).all() and ((base % VECTOR == 0) | ~live).all()):
                return False
    return True


def _mentions(name: str, lines) -> bool:
    """Whether C `lines` read the variable `name` (an index: n, or the flat index f)."""
    return any(re.search(rf"\b{name}\b", line) for line in lines)


def _with_n(n_line: str, lines: list[str]) -> list[str]:
    """`lines`, after `n_line` (the column n) where they read n."""
    return [n_line, *lines] if _mentions("n", lines) else lines


def vector_lambda(problem: Problem, code: EpilogueCode, raw_ctype: str) -> list[str] | None:
    """`auto epilogue8 = [&](const uint4 raw, bz, m, nb) {...};` computing the 8 elements
    whose 16-bit accumulators are `raw` (row m, columns nb..nb+7) and storing each result
    with vector stores; None unless `_proven`. `raw_ctype` is the accumulator's storage
    type (`optc_half`/`optc_bf16`)."""
    if not _proven(problem, code):
        return None
    it = problem.index_type
    acc = code.acc_ctype
    per_element = [f"const {acc.compute} acc = {acc.load(f'rv[j]')};"]
    if _mentions("f", [*code.body, *(s.value for s in code.stores)]):  # the element's own f (the stores read the head's)
        per_element.append(_f_line(problem))
    per_element += code.body
    buffers, stores = [], []
    for j, s in enumerate(code.stores):
        size = s.ctype.itemsize * VECTOR
        word, count = ("uint4", size // 16) if size >= 16 else ("uint2", 1)
        buffers.append(f"{s.ctype.storage} v{j}[{VECTOR}] __attribute__((aligned(16)));")
        per_element.append(f"v{j}[j] = {s.value};")
        write = " ".join(f"(({word}*)(out{s.target} + {s.flat}))[{q}] = ((const {word}*)v{j})[{q}];" for q in range(count))
        cond = " && ".join(s.conds)
        stores.append(f"if ({cond}) {{ {write} }}" if cond else f"{{ {write} }}")
    head = [_f_line(problem)] if _mentions("f", [x for s in code.stores for x in (s.flat, *s.conds)]) else []
    return [
        f"auto epilogue8 = [&](const uint4 raw, const {it} bz, const {it} m, const {it} nb) {{",
        f"    const {raw_ctype}* rv = (const {raw_ctype}*)&raw;",
        *(f"    {b}" for b in buffers),
        "    #pragma unroll",
        f"    for (int j = 0; j < {VECTOR}; ++j) {{",
        *(f"        {line}" for line in _with_n(f"const {it} n = nb + j;", per_element)),
        "    }",
        "    {",
        *(f"        {line}" for line in _with_n(f"const {it} n = nb;", [*head, *stores])),
        "    }",
        "};",
    ]
