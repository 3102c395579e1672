"""plan-memory on the zoo: the issue's target, arena <= 1.1x the lower bound, on every model
(ResNet-50 and BERT-base named by the issue), with the plan checked sound."""

from __future__ import annotations

import pytest

from tests.support import apply_pipeline
from tests.test_pass_plan_memory import check_plan
from tests.test_zoo_fusion import _entries, _fused

pytestmark = [pytest.mark.zoo, pytest.mark.slow]


@pytest.mark.parametrize("entry", _entries())
def test_arena_within_a_tenth_of_the_lower_bound(entry):
    _, fused = _fused(entry)
    stats = check_plan(apply_pipeline(fused, "outline-kernels,plan-memory"))
    assert stats["bytes"] <= 1.1 * stats["lower_bound"], stats
    assert stats["bytes"] < stats["naive"]
