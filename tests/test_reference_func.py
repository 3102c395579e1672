"""The reference interpreter's `func` semantics (runtime/reference/func.py)."""

import numpy as np
import pytest

from dialects.errors import OptcError
from runtime.reference import run
from tests.support import parse

CALL = """
func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = func.call @double(%x) : (tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
func.func @double(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = graph.add %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
"""

DECLARATION = """
func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = func.call @external(%x) : (tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
func.func private @external(tensor<3xf32>) -> tensor<3xf32>
"""


def test_call_runs_the_callee():
    x = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_array_equal(run(parse(CALL), {"input0": x})["output0"], 2 * x)


def test_calling_a_declaration_names_it():
    with pytest.raises(OptcError, match="cannot run @external: it is a declaration, with no body"):
        run(parse(DECLARATION), {"input0": np.zeros(3, np.float32)})
