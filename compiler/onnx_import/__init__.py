"""The ONNX frontend: `import_onnx(model, shapes)` → a `graph` dialect module."""

from compiler.onnx_import.frontend import import_onnx, is_static, load_model, parse_shape, parse_shapes

__all__ = ["import_onnx", "is_static", "load_model", "parse_shape", "parse_shapes"]
