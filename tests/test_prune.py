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
    inside, outside = prune(X, fraction=fraction, mode=mode, clusters=k, return_="both", random_state=seed)
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
    inside = prune(X, fraction=0.5, clusters="auto", embed=lambda a: a * 2.0)
    outside = prune(X, fraction=0.5, clusters="auto", return_="out", embed=lambda a: a * 2.0)
    assert len(inside) + len(outside) == 400 and not set(inside) & set(outside)


def test_bad_arguments():
    X = np.zeros((10, 2))
    with pytest.raises(EdgepruneError, match=r"prune fraction must be in \[0, 1\)"):
        prune(X, fraction=1.0)
    with pytest.raises(EdgepruneError, match="mode must be"):
        prune(X, fraction=0.5, mode="medium")
    with pytest.raises(EdgepruneError, match="return_ must be"):
        prune(X, fraction=0.5, return_="all")
