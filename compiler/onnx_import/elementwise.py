"""Importers for elementwise ONNX ops."""

from __future__ import annotations

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.dtypes import onnx_elem_to_mlir
from dialects.graph import AddOp, CastOp, ReluOp


@importer("Relu")
def relu(node: Node):
    return node.emit(ReluOp.make([node.input(0)]))


@importer("Add")
def add(node: Node):
    return node.emit(AddOp.make([node.input(0), node.input(1)]))


@importer("Cast")
def cast(node: Node):
    to = onnx_elem_to_mlir(node.attr("to"), f"{node.where()}: ")
    return node.emit(CastOp.to(node.input(0), to))
