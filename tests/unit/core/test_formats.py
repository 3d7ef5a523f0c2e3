"""Numbers in reports: one way to write each kind, and `n/a` for what is not a finite number."""

import math

import numpy as np
import pytest

from pipeline.core.formats import num, pct, percent, signed


def test_each_kind_of_number_is_written_one_way():
    assert num(0.12345) == "0.123" and num(2, digits=1) == "2.0" and num(np.float32(0.5)) == "0.500"
    assert pct(0.034) == "+3%" and pct(-0.2) == "-20%" and pct(0) == "+0%"
    assert signed(0.05) == "+0.05" and signed(-1.234, digits=1) == "-1.2"
    assert percent(0.0052) == "0.5%" and percent(0.0052, digits=2) == "0.52%"
    assert num("0.25") == "0.250"  # a number read back from a CSV as text


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, np.nan, "abc", [1]])
def test_what_is_not_a_finite_number_reads_n_a(bad):
    assert num(bad) == pct(bad) == signed(bad) == percent(bad) == "n/a"
