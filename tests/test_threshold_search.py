"""The leak search's nearest neighbours: brute force (faiss and numpy agree), and the bounded search, which must
find exactly the pairs brute force finds at the threshold, with their exact similarities."""

import numpy as np
import pytest

from edgeprune import threshold_search
from edgeprune.threshold_search import _bound_rows, bounded_search, brute_force, fit_projection, nearest_earlier


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    """Clustered rows with a decaying spectrum (as image embeddings have), and 60 later rows that are noisy copies
    of earlier ones, their similarities spread on both sides of 0.95. Returns (queries, earlier)."""
    rng = np.random.default_rng(0)
    dims = 256
    scale = np.arange(1, dims + 1) ** -0.75
    centres = rng.normal(size=(40, dims)) * scale
    earlier = centres[rng.integers(0, 40, 2000)] + 1.5 * rng.normal(size=(2000, dims)) * scale
    queries = centres[rng.integers(0, 40, 1500)] + 1.5 * rng.normal(size=(1500, dims)) * scale
    source = rng.choice(2000, 60, replace=False)
    queries[:60] = earlier[source] + rng.uniform(0.05, 0.6, (60, 1)) * rng.normal(size=(60, dims)) * scale
    queries[60] = earlier[source[0]]  # an exact copy: similarity 1.0
    everything = np.concatenate([queries, earlier])
    everything = _unit(everything - everything.mean(0))
    return everything[:1500], everything[1500:]


def test_faiss_and_numpy_brute_force_agree():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    a, b = _unit(rng.normal(size=(300, 16))), _unit(rng.normal(size=(500, 16)))
    one, two = brute_force(a, b, use_faiss=True), brute_force(a, b, use_faiss=False)
    assert np.allclose(one.similarity, two.similarity, atol=1e-5) and one.exact.all() and not one.bounded
    swapped = np.flatnonzero(one.index != two.index)  # BLAS kernels round differently: only a near-tie may swap
    assert np.allclose(
        (a[swapped] * b[one.index[swapped]]).sum(1), (a[swapped] * b[two.index[swapped]]).sum(1), atol=1e-5
    )


def test_the_bound_is_never_below_the_similarity(planted):
    queries, earlier = planted
    projection = fit_projection([queries, earlier], 16)
    assert np.allclose(projection.T @ projection, np.eye(16), atol=1e-8)
    bound = _bound_rows(queries, projection) @ _bound_rows(earlier, projection).T
    assert (bound >= queries @ earlier.T - 1e-5).all()


@pytest.mark.parametrize("threshold", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("rescoring", ["gathered", "dense"])
def test_bounded_search_finds_exactly_the_pairs_brute_force_finds(planted, threshold, rescoring, monkeypatch):
    if rescoring == "dense":  # as with video frames, where most pairs of a tile are candidates
        monkeypatch.setattr(threshold_search, "DENSE_SHARE", 0.0)
    queries, earlier = planted
    exact = brute_force(queries, earlier, use_faiss=False)
    found = bounded_search(queries, earlier, threshold, dims=16, workers=2)
    flagged = exact.similarity >= threshold - 1e-6
    assert 20 < flagged.sum() < 200  # the planted copies straddle the thresholds
    near_threshold = np.abs(exact.similarity - threshold) < 1e-5  # float rounding may decide these either way
    assert ((found.similarity >= threshold - 1e-6) == flagged)[~near_threshold].all()
    assert (found.exact == (found.similarity >= threshold - 1e-6)).all() and found.bounded
    assert np.allclose(found.similarity[flagged], exact.similarity[flagged], atol=1e-5)
    same = found.index[flagged] == exact.index[flagged]
    assert np.allclose(found.similarity[flagged][~same], exact.similarity[flagged][~same], atol=1e-5)  # near-ties
    # Below the threshold: a real neighbour, scored exactly, never above the true nearest.
    scored = (queries * earlier[found.index]).sum(1)
    assert np.allclose(scored, found.similarity, atol=1e-5)
    assert (found.similarity <= exact.similarity + 1e-5).all()
    if rescoring == "gathered":
        assert found.candidates < 0.05 * len(queries) * len(earlier)  # the bound prunes almost every pair


def test_exact_copies_and_a_threshold_of_one(planted):
    queries, earlier = planted
    found = bounded_search(queries, earlier, 1.0, dims=8, workers=1)
    assert found.exact[60] and found.similarity[60] == pytest.approx(1.0, abs=1e-5)


def test_nearest_earlier_bounds_only_large_wide_searches(planted, monkeypatch):
    queries, earlier = planted
    assert not nearest_earlier(queries, earlier, 0.95).bounded  # 1500 x 2000 x 256: brute force
    monkeypatch.setattr(threshold_search, "EXACT_FLOP_LIMIT", 0)
    assert nearest_earlier(queries, earlier, 0.95).bounded
    assert not nearest_earlier(queries, earlier).bounded  # no threshold: every nearest neighbour is wanted
    narrow = _unit(np.random.default_rng(1).normal(size=(50, 32)))
    assert not nearest_earlier(narrow, narrow, 0.95).bounded  # too few columns to leave half out
