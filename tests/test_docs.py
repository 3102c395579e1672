"""The docs stay true: their commands run and their code excerpts exist.

In the Markdown files checked here, a fenced block whose info string is
- `sh runnable` is run with bash (`set -euo pipefail`) from the repository root and
  must exit 0; blocks run in order, so a later one may use an earlier one's files;
- `python runnable` is run with this Python from the repository root and must exit 0;
- `console` holds `$ command` lines each followed by its exact output (stdout and stderr);
- `<lang> excerpt=PATH` must appear verbatim in the file PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["docs/adding-a-pass.md", "docs/onnx-export.md", "docs/calibration.md", "docs/quantization.md", "README.md"]
RUNNERS = {
    "sh": lambda body: ["bash", "-c", "set -euo pipefail\n" + body],
    "python": lambda body: [sys.executable, "-c", body],
}
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(doc: str) -> list[tuple[str, str, str]]:
    """(language, attributes, body) of every fenced block in `doc`."""
    with open(os.path.join(ROOT, doc)) as f:
        return [(m[1], m[2].strip(), m[3]) for m in FENCE.finditer(f.read())]


def execute(lang: str, body: str) -> subprocess.CompletedProcess:
    """Run a block from the repository root, with this environment's tools first on PATH."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run(
        RUNNERS[lang](body), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS)
def test_runnable_blocks_succeed(doc):
    runnable = [(lang, body) for lang, attrs, body in blocks(doc) if attrs == "runnable"]
    assert runnable, f"{doc} has no runnable block"
    for lang, body in runnable:
        result = execute(lang, body)
        assert result.returncode == 0, f"{doc}: this block failed:\n{body}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("doc", DOCS)
def test_console_blocks_show_real_output(doc):
    for lang, _, body in blocks(doc):
        if lang != "console":
            continue
        for command, expected in re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", body, re.MULTILINE):
            result = execute("sh", command + " 2>&1 || true")
            assert result.stdout == expected, f"{doc}: `{command}` prints:\n{result.stdout}"


@pytest.mark.parametrize("doc", DOCS)
def test_excerpts_are_in_their_files(doc):
    for _, attrs, body in blocks(doc):
        if attrs.startswith("excerpt="):
            path = attrs.removeprefix("excerpt=")
            with open(os.path.join(ROOT, path)) as f:
                assert body in f.read(), f"{doc}: the excerpt of {path} no longer matches the file:\n{body}"
