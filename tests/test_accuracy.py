"""compiler/accuracy.py: the output comparison of `optc-run --compare` and `optc --check-each-pass`
(its allclose verdicts are tested in test_optc_run.py; here, the errors it reports)."""

import numpy as np
import pytest

from compiler.accuracy import compare


@pytest.mark.parametrize(
    ("ours", "theirs", "max_abs", "max_rel"),
    [
        ([1.0, 2.0], [1.0, 2.0], 0.0, 0.0),
        ([1.0, 2.2], [1.0, 2.0], 0.2, 0.1),
        ([np.nan, 1.0], [np.nan, 1.0], 0.0, 0.0),  # NaN where the reference has NaN is no error
        ([np.inf, 1.0], [np.inf, 1.0], 0.0, 0.0),
        ([1.0, 1.0], [np.nan, 1.0], np.inf, np.inf),
        ([np.nan, 1.0], [1.0, 1.0], np.inf, np.inf),
        ([1.0, 1.0], [np.inf, 1.0], np.inf, np.inf),
        ([1e-3, 0.0], [0.0, 0.0], 1e-3, 0.0),  # no relative error against zero
    ],
)
def test_errors(ours, theirs, max_abs, max_rel):
    diff = compare(np.array(ours), np.array(theirs), "y", rtol=1e-3, atol=1e-4)
    assert diff.max_abs == pytest.approx(max_abs) and diff.max_rel == pytest.approx(max_rel)
