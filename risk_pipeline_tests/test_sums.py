"""risk.sums.group_sums: pandas' compensated group sum, whatever the layout of the other rows."""

import numpy as np
import pandas as pd

from risk_pipeline.risk.sums import group_sums


def test_group_sums_are_pandas_kahan_sums_and_do_not_depend_on_the_other_rows():
    rng = np.random.default_rng(7)
    values = rng.normal(0.0, 5000.0, 600)
    codes = rng.integers(0, 150, 600)  # unsorted: pandas sums with its Cython (Kahan) kernel
    values[[3, 40]] = np.nan
    expected = pd.Series(values).groupby(codes).sum()
    got = group_sums(values, codes, 150)
    assert np.array_equal(got[expected.index], expected.to_numpy())
    assert np.array_equal(np.delete(got, expected.index), np.zeros(150 - len(expected)))
    for g in range(150):  # each group alone, its rows in the same order: the same sum to the bit
        own = codes == g
        assert group_sums(values[own], np.zeros(own.sum(), dtype=int), 1)[0] == got[g]
