"""pipeline.data.segments: which test frauds form which segment."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import DataError
from pipeline.data.segments import fraud_segments

TEST = pd.DataFrame(
    {"scenario": [1, 2, 2, None, 3, 1], "amount": [5.0, 50.0, 500.0, 20.0, 1.0, 99.0], "y": [1, 1, 1, 1, 0, 0]}
)


def test_categorical_segments_are_the_values_among_frauds():
    segs = fraud_segments(TEST, ["scenario"], "y")
    assert [s.name for s in segs] == ["scenario=1", "scenario=2", "scenario=missing"]  # 3 is not a fraud value
    assert segs[0].mask.tolist() == [True, False, False, False, False, True]  # masks cover all test rows


def test_numeric_bins():
    segs = fraud_segments(TEST, [{"column": "amount", "bins": [0, 10, 100, 1000]}], "y")
    assert [s.value for s in segs] == ["[0, 10)", "[10, 100)", "[100, 1000)"]
    assert np.flatnonzero(segs[1].mask).tolist() == [1, 3, 5]


def test_unknown_column_is_one_line():
    with pytest.raises(DataError, match=r"evaluate.segments names column 'nope'"):
        fraud_segments(TEST, ["nope"], "y")


def test_frauds_outside_the_bin_edges_form_their_own_segments():
    segs = fraud_segments(TEST, [{"column": "amount", "bins": [10, 100]}], "y")
    assert [s.value for s in segs] == ["< 10", "[10, 100)", ">= 100"]
    covered = np.logical_or.reduce([s.mask for s in segs]) & (TEST["y"] == 1).to_numpy()
    assert covered.sum() == (TEST["y"] == 1).sum()  # every fraud is in some segment
