"""The ONNX writer: `export(module, path)` → an ONNX model of a graph-level module (the
`graph` dialect as imported or after graph-optimize, and the `quant` dialect's ops), the
reverse of `compiler.onnx_import`. See docs/onnx-export.md."""

from compiler.onnx_export.exporter import export

__all__ = ["export"]
