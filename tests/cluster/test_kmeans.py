import numpy as np
import pytest
from sklearn.datasets import make_blobs

from edgeprune.cluster import METHODS, KMeans, make_clusterer
from edgeprune.cluster.kmeans import faiss_available
from edgeprune.errors import EdgepruneError


@pytest.mark.parametrize(
    "backend",
    ["sklearn", pytest.param("faiss", marks=pytest.mark.skipif(not faiss_available(), reason="faiss not installed"))],
)
def test_recovers_blob_centers(backend):
    X, y, centers = make_blobs(6000, n_features=16, centers=5, cluster_std=0.5, random_state=0, return_centers=True)
    km = KMeans(5, random_state=0, backend=backend).fit(X)
    assert km.backend_ == backend
    matched = np.linalg.norm(km.cluster_centers_[:, None] - centers[None], axis=2).min(axis=0)
    assert matched.max() < 0.2
    assert km.transform(X).shape == (6000, 5)
    np.testing.assert_array_equal(km.predict(X), km.labels_)


def test_deterministic_for_a_seed():
    X, _ = make_blobs(500, centers=4, random_state=1)
    a, b = KMeans(4, random_state=7).fit(X), KMeans(4, random_state=7).fit(X)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_)


def test_registry_and_errors():
    assert "kmeans" in METHODS
    with pytest.raises(EdgepruneError, match="unknown clustering method 'nope'; choose one of"):
        make_clusterer("nope", 3)
    with pytest.raises(EdgepruneError, match="cannot make 10 clusters from 3 samples"):
        KMeans(10).fit(np.zeros((3, 2)))
    with pytest.raises(EdgepruneError, match="NaN"):
        KMeans(1).fit(np.array([[np.nan, 1.0]]))
