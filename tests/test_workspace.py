"""A tactic's workspace (passes/codegen/generator.py): the engine gives it scratch memory in
the arena past every planned buffer, as one more pointer after the kernel's results, and
the plan check holds it there."""

from __future__ import annotations

import dataclasses

import pytest

from passes.codegen import registry
from runtime.engine.file import EngineImage, read_engine, write_engine
from runtime.engine.plan import PlanError, Slot
from tests.test_engine import TWO_RELUS, image_of


@pytest.fixture
def relu_workspace(monkeypatch):
    """The relu generator's tactics ask for 1000 bytes of workspace (neg's ask for none)."""
    from dialects import graph

    generator = registry.GENERATORS[graph.ReluOp]
    monkeypatch.setitem(registry.GENERATORS, graph.ReluOp, dataclasses.replace(generator, workspace=lambda k, l: 1000))


def test_workspace_is_the_last_pointer_and_lives_past_the_planned_buffers(relu_workspace):
    plan = image_of(TWO_RELUS).plan
    planned = plan.memory["bytes"]
    assert plan.memory["workspace"] == 1000
    start = -(-planned // 256) * 256
    assert plan.region_bytes["arena"] == start + 1000
    kernels = {k.name: k for k in plan.kernels}
    for launch in plan.launches:
        kernel = kernels[launch.kernel]
        if "relu" in kernel.ops[0]:
            assert kernel.params[-1].workspace and kernel.params[-1].shape == (1000,)
            assert launch.args[-1] == Slot("arena", start)
        else:
            assert not any(p.workspace for p in kernel.params)
            assert len(launch.args) == len(kernel.params)
    plan.check(len({k.image for k in plan.kernels}), plan.region_bytes["weights"])


def test_workspace_round_trips_through_an_engine_file(relu_workspace, tmp_path):
    image = image_of(TWO_RELUS)
    write_engine(image, tmp_path / "w.engine")
    again = read_engine(tmp_path / "w.engine")
    assert again.plan == image.plan


def _with_kernel(image: EngineImage, index: int, **changes) -> EngineImage:
    kernels = list(image.plan.kernels)
    kernels[index] = dataclasses.replace(kernels[index], **changes)
    return dataclasses.replace(image, plan=dataclasses.replace(image.plan, kernels=tuple(kernels)))


def test_a_workspace_that_is_not_the_last_parameter_is_refused(relu_workspace):
    image = image_of(TWO_RELUS)
    index = next(i for i, k in enumerate(image.plan.kernels) if k.params[-1].workspace)
    params = image.plan.kernels[index].params
    swapped = (params[-1], *params[:-1])
    with pytest.raises(PlanError, match=r"is a workspace, which must be the last parameter"):
        _with_kernel(image, index, params=swapped).plan.check(len(image.images), len(image.weights))


def test_a_workspace_inside_the_planned_buffers_is_refused(relu_workspace):
    image = image_of(TWO_RELUS)
    launches = tuple(
        dataclasses.replace(launch, args=(*launch.args[:-1], Slot("arena", 0)))
        if len(launch.args) == 3 else launch
        for launch in image.plan.launches
    )
    bad = dataclasses.replace(image.plan, launches=launches)
    with pytest.raises(PlanError, match=r"is its workspace, which lives in the arena past the planned buffers"):
        bad.check(len(image.images), len(image.weights))
