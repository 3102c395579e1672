"""docs/supported-ops.md lists exactly the ONNX ops the importer table holds."""

import os

from compiler.onnx_import.registry import IMPORTERS, SUPPORTED_OPS_DOC
from compiler.supported_ops import markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "supported-ops.md")


def test_page_is_in_sync_with_the_importers():
    with open(PAGE) as f:
        committed = f.read()
    assert committed == markdown(), "regenerate: python -m compiler.supported_ops > docs/supported-ops.md"


def test_page_names_every_op_once():
    with open(PAGE) as f:
        text = f.read()
    for op in IMPORTERS:
        assert text.count(f"[{op}]") == 1, op


def test_unsupported_op_error_points_at_the_page():
    assert SUPPORTED_OPS_DOC.split()[0] == "docs/supported-ops.md"
