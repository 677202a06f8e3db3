"""One shared contract test for every registered clustering method."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from edgeprune.cluster import METHODS, make_clusterer
from edgeprune.errors import EdgepruneError

ALL = sorted(METHODS)
FUZZY = ["fcm", "fcm_init", "fpcm", "pfcm", "ipcm", "ipcm_2", "bgpc"]
TYPICAL = ["pcm", "fpcm", "pfcm", "ipcm", "ipcm_2", "bgpc"]


@pytest.fixture(scope="module")
def blobs():
    X, _, centers = make_blobs(1500, n_features=6, centers=4, cluster_std=0.5, random_state=3, return_centers=True)
    return X.astype(np.float32), centers


@pytest.mark.parametrize("name", ALL)
def test_recovers_separable_blob_centers(blobs, name):
    X, centers = blobs
    est = make_clusterer(name, 4, random_state=0)
    assert est.fit(X) is est
    error = np.linalg.norm(est.cluster_centers_[:, None] - centers[None], axis=2).min(axis=0)
    assert error.max() < 0.25, error
    assert est.transform(X).shape == (1500, 4)
    np.testing.assert_array_equal(est.predict(X), est.labels_)
    assert len(np.unique(est.labels_)) == 4


@pytest.mark.parametrize("name", FUZZY)
def test_fuzzy_memberships_sum_to_one(blobs, name):
    est = make_clusterer(name, 4).fit(blobs[0])
    if name == "bgpc":  # graded model at alpha < 1 is between probabilistic and possibilistic
        assert ((est.u_ >= 0) & (est.u_ <= 1 + 1e-9)).all()
    else:
        np.testing.assert_allclose(est.u_.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", TYPICAL)
def test_typicalities_in_unit_interval(blobs, name):
    est = make_clusterer(name, 4).fit(blobs[0])
    assert est.t_.shape == (1500, 4)
    assert (est.t_ >= 0).all() and (est.t_ <= 1 + 1e-9).all()
    assert (est.t_.max(axis=0) > 0).all()
    if name in ("pcm", "pfcm", "ipcm"):
        assert (est.t_ > 0).all()


@pytest.mark.parametrize("name", ALL)
def test_deterministic_for_a_seed(blobs, name):
    a = make_clusterer(name, 4, random_state=5).fit(blobs[0])
    b = make_clusterer(name, 4, random_state=5).fit(blobs[0])
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_degenerate_inputs(name):
    with pytest.raises(EdgepruneError, match="cannot make 5 clusters from 3 samples"):
        make_clusterer(name, 5).fit(np.zeros((3, 2)))
    rng = np.random.default_rng(0)
    duplicates = np.repeat(rng.normal(size=(3, 4)), 20, axis=0)
    est = make_clusterer(name, 3).fit(duplicates)
    assert np.isfinite(est.cluster_centers_).all() and len(np.unique(est.labels_)) == 3
    constant = np.c_[rng.normal(size=(60, 3)), np.ones(60)]
    est = make_clusterer(name, 2).fit(constant)
    assert np.isfinite(est.cluster_centers_).all()
    np.testing.assert_allclose(est.cluster_centers_[:, 3], 1.0, atol=1e-5)


def test_methods_are_fast_on_realistic_sizes():
    import time

    X, _ = make_blobs(50_000, n_features=256, centers=20, cluster_std=3.0, random_state=0)
    X = X.astype(np.float32)
    for name in ("hcm", "fcm", "pcm"):
        started = time.perf_counter()
        make_clusterer(name, 20).fit(X)
        assert time.perf_counter() - started < 60, name


def test_high_dimensional_fcm_collapse_is_detected():
    X, _ = make_blobs(600, n_features=128, centers=10, cluster_std=4.0, random_state=0)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    assert make_clusterer("fcm", 5).fit(X).collapsed_
    assert not make_clusterer("hcm", 5).fit(X).collapsed_
    assert not make_clusterer("fcm", 4).fit(make_blobs(400, n_features=4, centers=4, random_state=0)[0]).collapsed_


@pytest.mark.parametrize("name", sorted(METHODS))
def test_scikit_learn_estimator_contract(blobs, name):
    """get_params/set_params/clone work and a clone fits to the same prototypes: every method is a real
    scikit-learn clusterer."""
    from sklearn.base import clone, is_classifier

    X, _ = blobs
    estimator = make_clusterer(name, 3, random_state=1)
    params = estimator.get_params()
    assert params["n_clusters"] == 3 and params["random_state"] == 1
    twin = clone(estimator).set_params(random_state=1)
    assert twin.get_params() == params and not is_classifier(twin)
    np.testing.assert_allclose(estimator.fit(X).cluster_centers_, twin.fit(X).cluster_centers_)
    np.testing.assert_array_equal(estimator.fit_predict(X), estimator.predict(X))
    assert "n_clusters=3" in repr(estimator)


def test_gng_predict_agrees_with_its_labels(blobs):
    from sklearn.base import clone

    from edgeprune.cluster.gng import GrowingNeuralGas

    X, _ = blobs
    gng = GrowingNeuralGas(random_state=0, max_samples=500).fit(X)
    np.testing.assert_array_equal(gng.predict(X), gng.labels_)
    assert gng.labels_.max() < gng.n_components_
    assert clone(gng).get_params() == gng.get_params()
