"""The locked install (issue 9): requirements.lock pins everything the README commands
install, with hashes; the environment the suite runs in is exactly that set; the GPU
machine's wheels are pinned from it too."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _name(requirement: str) -> str:
    """A requirement's project name, normalised as PEP 503 does."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


def _pins() -> dict[str, tuple[str, list[str]]]:
    """Locked project name -> (version, its hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==(\S+)", line):
            current = _name(match.group(1))
            pins[current] = (match.group(2), [])
        elif current and (match := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current][1].append(match.group(1))
    return pins


def test_every_requirement_of_pyproject_is_pinned_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["test"],
        *project["build-system"]["requires"],
    ]
    pins = _pins()
    missing = sorted(_name(r) for r in wanted if _name(r) not in pins)
    assert not missing, f"requirements.lock lacks {missing}: run bash .ci/refresh-lock.sh"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
    assert not unhashed, f"pins without hashes: {unhashed}"


def test_the_environment_is_the_locked_set():
    """What .ci/env.sh installed: every locked package at its locked version."""
    differ = []
    for name, (version, _) in _pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            differ.append(f"{name} {installed} (lock: {version})")
    assert not differ, f"the environment is not the locked set ({', '.join(differ)}): reinstall it with `rm -f .venv/.optc-installed; . .ci/env.sh`"


def test_the_gpu_machine_gets_locked_versions():
    packages = re.search(r'GPU_PACKAGES="([^"]+)"', (ROOT / ".ci" / "gpu-packages.sh").read_text()).group(1)
    missing = [name for name in packages.split() if _name(name) not in _pins()]
    assert not missing, f".ci/gpu-packages.sh names packages the lock does not pin: {missing}"


@pytest.mark.parametrize("script", ["tests/run.sh", "examples/quickstart.sh"])
def test_the_readme_commands_install_through_the_lock(script):
    """Both README commands source .ci/env.sh, which installs requirements.lock with hashes."""
    assert ". .ci/env.sh" in (ROOT / script).read_text()
    env = (ROOT / ".ci" / "env.sh").read_text()
    assert "--require-hashes --no-deps -r \"$lock\"" in env and "requirements.lock" in env
    assert "--no-deps --no-build-isolation -e ." in env


def test_the_cuda_libs_extra_is_pinned_and_the_gpu_machine_gets_it():
    """nvmath-python and what it imports, and cudnn-frontend, at exact versions (the
    bindings' ABI and the algorithms and plans engines store follow them); not in the lock,
    which covers --extra test; .ci/gpu-packages.sh hands exactly these to the GPU machine."""
    import subprocess

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cuda-libs"]
    assert {_name(r) for r in extra} == {"nvmath-python", "cuda-core", "cuda-pathfinder", "nvidia-cudnn-frontend"}
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[0-9][0-9.]*", r) for r in extra), extra
    printed = subprocess.run(["bash", "-c", ". .ci/gpu-packages.sh && cuda_lib_pins"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert printed.stdout.split() == extra
    assert ". .ci/gpu-packages.sh" in (ROOT / "tests" / "run_gpu.sh").read_text() and "$(cuda_lib_pins)" in (ROOT / "tests" / "run_gpu.sh").read_text()
