"""risk.sums.group_sums: pandas' compensated group sum, whatever the layout of the other rows."""

import numpy as np
import pandas as pd

from risk_pipeline.risk.sums import group_sums, row_sums


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


def test_row_sums_depend_only_on_each_rows_nonzero_terms():
    """Zero columns anywhere (an instrument held on other days) leave a row's sum to the bit; NaN
    propagates unless skipped."""
    rng = np.random.default_rng(21)
    terms = rng.normal(0.0, 1e5, (50, 12))
    padded = np.zeros((50, 40))
    padded[:, sorted(rng.choice(40, 12, replace=False))] = terms  # same order, zero columns between
    assert np.array_equal(row_sums(padded), row_sums(terms))
    assert not np.array_equal(padded.sum(axis=1), terms.sum(axis=1))  # NumPy's 8 partial sums move
    np.testing.assert_allclose(row_sums(terms), [np.sum(np.array(r, dtype=np.longdouble)) for r in terms],
                               rtol=1e-15, atol=1e-9)
    terms[3, 5] = np.nan
    assert np.isnan(row_sums(terms)[3]) and row_sums(terms, skipna=True)[3] == row_sums(np.delete(terms[3:4], 5, 1))[0]
