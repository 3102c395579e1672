"""The compiler: ONNX import, pipelines, the `optc` command and the engine build API.

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
