"""What the tests share through pytest: finding a GPU.

A test marked `@pytest.mark.gpu` is skipped, with the reason, where CUDA cannot run (no
cuda-bindings, no driver library, cuInit failing, no device). It may also take the `gpu`
fixture: device 0 (a runtime.cuda.Device) with its primary context current.
Set OPTC_REQUIRE_GPU=1 on a GPU machine to turn those skips into failures, so a broken
driver cannot pass as a clean run.
"""

from __future__ import annotations

import functools
import os

import pytest


@functools.cache
def _no_gpu_reason() -> str | None:
    """Why CUDA cannot run here, or None if device 0 answers. Asked once per session."""
    try:
        from runtime.cuda import CudaUnavailable, current_context
    except ImportError as exc:
        return f"cuda-bindings is not installed ({exc})"
    try:
        current_context()
    except CudaUnavailable as exc:
        return str(exc)
    return None


def _skip_without_gpu() -> None:
    reason = _no_gpu_reason()
    if reason is None:
        return
    if os.environ.get("OPTC_REQUIRE_GPU"):
        pytest.fail(f"OPTC_REQUIRE_GPU is set but there is no usable GPU: {reason}", pytrace=False)
    pytest.skip(f"no CUDA GPU: {reason}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu") is not None:
        _skip_without_gpu()


@pytest.fixture(scope="session")
def gpu():
    """Device 0, its primary context current; skips the test where there is none."""
    _skip_without_gpu()
    from runtime.cuda import Device

    return Device(0)
