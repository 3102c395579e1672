"""`optc` starts fast: a run imports the passes it runs, not every registered one (the
pass list of `--help` is built only when help is printed), and the reference interpreter
does not pull in xDSL's interpreters of other dialects, so each lit `RUN:` line pays only
for what it uses."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# runs optc in a fresh interpreter and prints the optc modules it imported
PROBE = """
import sys
from compiler.optc import main
try:
    main(sys.argv[1:])
finally:  # --version exits through argparse
    print("MODULES", " ".join(sorted(m for m in sys.modules if m.startswith(("passes", "runtime", "xdsl.interpreters")))))
"""


def imported(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES"))
    return set(line.split()[1:])


def test_version_imports_no_pass():
    assert {m for m in imported("--version") if m.startswith("passes.")} <= {"passes.registry"}


@pytest.mark.slow
def test_a_run_imports_only_the_passes_it_runs():
    modules = imported(str(ROOT / "lit_tests/graph/core.mlir"), "-p", "graph-dce")
    assert "passes.graph.dce" in modules
    assert {m for m in modules if m.startswith(("passes.fusion", "passes.lowering", "passes.memory"))} == set()
    assert "runtime.reference" not in modules


@pytest.mark.slow
def test_the_reference_interpreter_imports_no_xdsl_interpreter():
    modules = imported(str(ROOT / "lit_tests/graph/core.mlir"), "-p", "graph-fold-constants")
    assert "runtime.reference.interpreter" in modules
    assert {m for m in modules if m.startswith("xdsl.interpreters")} == set()


def test_help_still_lists_every_pass(capsys):
    from compiler.optc import main
    from passes.registry import PASSES

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in PASSES)
    assert "pipelines:" in out
