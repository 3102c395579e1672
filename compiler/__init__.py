"""The compiler: ONNX import (`onnx_import/`), named pipelines (`pipelines.py`), the `optc`
and `optc-run` commands, the ONNX backends (`backend.py`) and the engine build API
(`engine_build.py`: lower to the kernel level, generate and compile every kernel, plan):

    import compiler
    engine = compiler.build("model.onnx", precision="fp16")
    outputs = engine.run({"input": array})
"""


def build(*args, **kwargs):
    """See `compiler.engine_build.build`."""
    from compiler.engine_build import build as _build

    return _build(*args, **kwargs)


def load(path):
    """See `compiler.engine_build.load`."""
    from compiler.engine_build import load as _load

    return _load(path)
