"""The ONNX backend node tests on the GPU: every supported node test through
`OptcCudaBackend`, i.e. imported, lowered to the kernel level, its kernels generated and
compiled with NVRTC, and run as an engine (marker `gpu`).

The same rules as the reference run (tests/test_onnx_backend.py): unsupported ops are
skipped and not counted, exclusions are listed with reasons (GPU_EXCLUDED here, beside the
reference's own EXCLUDED, which fail on the GPU for the same reasons), and `test_pass_rate`
asks for at least 98% of the supported tests to pass.
"""

from __future__ import annotations

import functools
import unittest

import onnx.backend.test
import pytest

from compiler.backend import OptcCudaBackend
from tests.onnx_backend_exclusions import EXCLUDED, GPU_EXCLUDED
from tests.test_onnx_backend import CATEGORY, MIN_PASS_RATE, UNSUPPORTED, _split

pytestmark = pytest.mark.gpu

OUTCOMES: dict[str, str] = {}
EXCLUSIONS = {**EXCLUDED, **GPU_EXCLUDED}


def _tracked(method, run):
    name, _ = _split(method)

    @functools.wraps(run)
    def test(self):
        if name in UNSUPPORTED:
            raise unittest.SkipTest(f"no optc importer for {', '.join(UNSUPPORTED[name])}")
        try:
            run(self)
        except unittest.SkipTest:
            raise
        except Exception:
            if name not in EXCLUSIONS:
                OUTCOMES[method] = "failed"
                raise
            OUTCOMES[method] = "excluded"
            raise unittest.SkipTest(f"excluded: {EXCLUSIONS[name]}") from None
        OUTCOMES[method] = "passed"
        if name in GPU_EXCLUDED:
            self.fail(f"{name} passes on the GPU now: remove it from GPU_EXCLUDED")

    return test


def _node_test_case():
    backend_test = onnx.backend.test.BackendTest(OptcCudaBackend, __name__)
    backend_test.include(r"^test_")
    case = backend_test.test_cases[CATEGORY]
    for method in [m for m in vars(case) if m.startswith("test_")]:
        if _split(method)[1] != "CUDA":
            delattr(case, method)
            continue
        setattr(case, method, _tracked(method, getattr(case, method)))
    return case


OnnxBackendNodeModelTestGpu = _node_test_case()


def test_pass_rate():
    methods = [m for m in vars(OnnxBackendNodeModelTestGpu) if m.startswith("test_") and _split(m)[0] not in UNSUPPORTED]
    ran = [m for m in methods if m in OUTCOMES]
    if len(ran) < len(methods):
        pytest.skip(f"only {len(ran)} of {len(methods)} supported GPU node tests ran (run the whole file)")
    passed = sum(OUTCOMES[m] == "passed" for m in ran)
    failed = sorted(m for m in ran if OUTCOMES[m] == "failed")
    rate = passed / len(ran)
    print(f"\nGPU node tests: {passed} passed, {len(ran) - passed - len(failed)} excluded, {len(failed)} failed of {len(ran)} ({rate:.1%})")
    assert rate >= MIN_PASS_RATE, f"{rate:.1%} < {MIN_PASS_RATE:.0%}; failed: {', '.join(failed)}"
