"""Engines: a compiled model as plain data (`plan.py`), its file (`file.py`) and the object
that runs it on the GPU (`engine.py`). Nothing here knows about passes or IR: the compiler
(`compiler/engine_build.py`) makes the plan, the runtime runs it."""

from runtime.engine.file import EngineFileError, EngineImage, check_image, read_engine, write_engine
from runtime.engine.plan import EnginePlan, KernelSpec, LaunchSpec, ParamSpec, PlanError, Slot, TensorSpec

__all__ = [
    "EngineFileError",
    "EngineImage",
    "EnginePlan",
    "KernelSpec",
    "LaunchSpec",
    "ParamSpec",
    "PlanError",
    "Slot",
    "TensorSpec",
    "check_image",
    "read_engine",
    "write_engine",
]
