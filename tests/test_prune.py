import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from edgeprune import prune
from edgeprune.cluster import KMeans
from edgeprune.curation.score import prototype_scores
from edgeprune.errors import EdgepruneError


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 300),
    k=st.integers(1, 6),
    fraction=st.floats(0.0, 0.95),
    seed=st.integers(0, 1000),
    mode=st.sampled_from(["easy", "hard"]),
)
def test_in_and_out_partition_with_reference_sizes(n, k, fraction, seed, mode):
    X = np.random.default_rng(seed).normal(size=(n, 5))
    inside, outside = prune(X, keep=1 - fraction, policy=mode, clusters=k, return_="both", seed=seed)
    assert np.array_equal(np.sort(np.r_[inside, outside]), np.arange(n))
    labels, distances = prototype_scores(X.astype(np.float32), KMeans(k, random_state=seed).fit(X).cluster_centers_)
    kept = np.zeros(n, bool)
    kept[inside] = True
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        size = len(members)
        n_easy = size - math.ceil(round((1 - fraction) * size, 9))
        assert kept[members].sum() == size - n_easy
        ordered = members[np.argsort(distances[members], kind="stable")]
        kept_part = ordered[n_easy:] if mode == "hard" else ordered[: size - n_easy]
        assert kept[kept_part].all()


def test_return_modes_embed_function_and_auto_k():
    X, _ = make_blobs(400, n_features=4, centers=3, random_state=0)
    inside = prune(X, keep=0.5, clusters="auto", embed=lambda a: a * 2.0)
    outside = prune(X, keep=0.5, clusters="auto", return_="out", embed=lambda a: a * 2.0)
    assert len(inside) + len(outside) == 400 and not set(inside) & set(outside)


def test_bad_arguments():
    X = np.zeros((10, 2))
    with pytest.raises(EdgepruneError, match=r"keep fraction must be in \(0, 1\]"):
        prune(X, keep=0.0)
    with pytest.raises(EdgepruneError, match="prune needs keep"):
        prune(X)
    with pytest.raises(EdgepruneError, match="policy must be one of"):
        prune(X, keep=0.5, policy="medium")
    with pytest.raises(EdgepruneError, match="return_ must be"):
        prune(X, keep=0.5, return_="all")
    with pytest.raises(EdgepruneError, match="not both"):
        prune(X, keep=0.5, fraction=0.5)


def test_the_earlier_names_still_work_and_warn():
    X, _ = make_blobs(200, n_features=4, centers=3, random_state=1)
    with pytest.warns(DeprecationWarning, match="use keep=1 - f"):
        old = prune(X, fraction=0.3, mode="easy", clusters=3, random_state=4)
    assert np.array_equal(old, prune(X, keep=0.7, policy="easy", clusters=3, seed=4))
    with pytest.warns(DeprecationWarning), pytest.raises(EdgepruneError, match=r"prune fraction must be in \[0, 1\)"):
        prune(X, fraction=1.0)
    with pytest.raises(EdgepruneError, match="give policy or the deprecated mode, not both"):
        prune(X, keep=0.5, policy="easy", mode="hard")
