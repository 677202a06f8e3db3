import numpy as np

from edgeprune.vectors import center, l2_normalize


def test_l2_normalize_gives_unit_rows_and_keeps_zero_rows():
    X = np.array([[3.0, 4.0], [0.0, 0.0], [1e-3, 0.0]], np.float32)
    unit = l2_normalize(X)
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]], atol=1e-6)
    assert l2_normalize(X.astype(np.float64)).dtype == np.float64


def test_center_removes_the_shared_direction_whatever_the_row_order():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 8)) * 1e-3 + 100).astype(np.float32)  # a tiny spread around one large vector
    centred = center(X)
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_array_equal(center(X[::-1])[::-1], centred)  # the mean is summed in float64
    off_diagonal = ~np.eye(500, dtype=bool)
    raw = l2_normalize(X) @ l2_normalize(X).T
    assert raw[off_diagonal].min() > 0.999  # every pair looks alike before centring
    spread = l2_normalize(centred) @ l2_normalize(centred).T
    assert np.abs(spread[off_diagonal]).mean() < 0.4  # after it, cosines follow the spread (8 random dimensions)
