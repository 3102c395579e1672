"""The shape of the CUDA backend (passes/codegen/): no module imports a module that imports
it back (directly or through others), no GPU fact is restated outside `target.py` (the SM
count, 132 on H100, is the canary) and no generator reads a target it was not handed.
`common/` imports no family. Read with `ast`, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "passes" / "codegen"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules `path` imports, at any depth in the file (lazy imports count):
    `from a.b import c` names a.b.c when that is a module, else a.b."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found & modules.keys()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for succ in sorted(graph[node]):
            if state.get(succ) == 1:
                return stack[stack.index(succ) :] + [succ]
            if succ not in state and (found := visit(succ)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_codegen_has_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle in passes/codegen: " + " -> ".join(cycle)


def test_common_imports_no_family():
    """`common/` is what the families share: it depends on none of them (the layering that
    lets any family print an epilogue without pulling in another)."""
    modules = _modules()
    common = {name: path for name, path in modules.items() if name.startswith("passes.codegen.common")}
    families = ("elementwise", "reduction", "pool", "movement", "matmul", "conv", "attention", "library")
    bad = {
        name: sorted(i for i in _imports(path, modules) if i.split(".")[2:3] and i.split(".")[2] in families)
        for name, path in common.items()
    }
    assert not {k: v for k, v in bad.items() if v}, f"common/ imports a family: {bad}"


def test_family_packages_exist():
    families = {"common", "elementwise", "reduction", "pool", "movement", "matmul", "conv", "attention"}
    assert families <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert not list(PACKAGE.glob("cuda_*.py")), "flat cuda_*.py modules belong in a family's sub-package"


def test_sm_count_only_in_target():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "target.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value == 132:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "the SM count is a fact about the GPU (passes/codegen/target.py): " + ", ".join(offenders)


def test_generators_read_no_module_level_target():
    """Every generator is handed its Target: none reads an attribute of target.DEFAULT (or
    another table) itself; DEFAULT may only stand as a parameter's default value."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "target.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("DEFAULT", "SM_80", "SM_90"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} ({node.value.id}.{node.attr})")
    assert not offenders, "a generator reads the target it is handed: " + ", ".join(offenders)
