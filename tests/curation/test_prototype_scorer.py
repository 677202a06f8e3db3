"""PrototypeScorer: a scikit-learn estimator whose scores and selections are the ones curate computes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from edgeprune.cluster import KMeans
from edgeprune.curation.prototype_scorer import PrototypeScorer, fit_sample_size
from edgeprune.curation.score import l2_normalize, prototype_scores
from edgeprune.curation.select import select
from edgeprune.errors import EdgepruneError


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(300, n_features=6, centers=4, cluster_std=1.5, random_state=2)
    return X


def test_scores_are_the_distance_to_the_nearest_fitted_prototype(blobs):
    scorer = PrototypeScorer(clusters=4, seed=3).fit(blobs)
    centers = KMeans(4, random_state=3).fit(blobs.astype(np.float32)).cluster_centers_
    labels, distances = prototype_scores(blobs.astype(np.float32), centers)
    np.testing.assert_allclose(scorer.score_samples(blobs), distances, rtol=1e-5, atol=1e-6)
    assert np.array_equal(scorer.predict(blobs), labels) and np.array_equal(scorer.labels_, labels)
    assert scorer.n_clusters_ == 4 and scorer.cluster_centers_.shape == (4, 6)
    far = blobs + 50.0  # far from every prototype: harder than any fitted sample
    assert scorer.score_samples(far).min() > scorer.distances_.max()


def test_select_is_curates_select_on_the_same_scores(blobs):
    scorer = PrototypeScorer(clusters=4, seed=0).fit(blobs)
    for policy in ("hard", "easy", "random", "stratified"):
        expected = select(scorer.distances_, scorer.labels_, keep=0.3, policy=policy, seed=0)
        assert np.array_equal(scorer.select(keep=0.3, policy=policy), expected), policy
    mask = scorer.select(blobs, keep=0.1, policy="coreset")
    assert mask.sum() == 30


def test_normalize_scores_by_cosine_distance(blobs):
    scorer = PrototypeScorer(clusters=4, normalize=True).fit(blobs)
    unit = l2_normalize(blobs.astype(np.float32))
    _, distances = prototype_scores(unit, scorer.cluster_centers_, "cosine")
    np.testing.assert_allclose(scorer.score_samples(blobs), distances, rtol=1e-5, atol=1e-6)
    assert 0.0 <= scorer.distances_.min() and scorer.distances_.max() <= 2.0


def test_it_is_a_scikit_learn_estimator(blobs):
    scorer = PrototypeScorer(method="hcm", clusters="auto:silhouette", seed=5)
    params = {"method": "hcm", "clusters": "auto:silhouette", "normalize": False, "seed": 5, "fit_rows": None}
    assert clone(scorer).get_params() == params
    fitted = scorer.fit(blobs)
    assert fitted is scorer and 2 <= scorer.n_clusters_ <= 20 and "silhouette" in scorer.k_reason_


def test_bad_input_names_the_parameter(blobs):
    with pytest.raises(NotFittedError):
        PrototypeScorer().score_samples(blobs)
    scorer = PrototypeScorer(clusters=3).fit(blobs)
    with pytest.raises(EdgepruneError, match="X has 2 features per sample; the prototypes were fitted on 6"):
        scorer.predict(blobs[:, :2])
    with pytest.raises(EdgepruneError, match="NaN or infinite"):
        scorer.fit(np.full((10, 2), np.nan))
    with pytest.raises(EdgepruneError, match="at least one sample"):
        scorer.fit(np.zeros((0, 3)))
    with pytest.raises(EdgepruneError, match="policy must be one of"):
        scorer.select(keep=0.5, policy="balanced")
    with pytest.raises(EdgepruneError, match="policy=typical reads the samples themselves: pass them as X"):
        scorer.select(keep=0.5, policy="typical")
    with pytest.raises(EdgepruneError, match="keep fraction must be in"):
        scorer.select(keep=1.5)
    with pytest.raises(EdgepruneError, match=r"clusters=8 is larger than the number of samples \(5\)"):
        PrototypeScorer(clusters=8).fit(blobs[:5])


def test_a_memory_mapped_fit_stays_within_its_budget(tmp_path, monkeypatch):
    from edgeprune.curation import prototype_scorer

    assert [fit_sample_size(k) for k in (10, 1000, 5000, 10_000)] == [640, 64_000, 250_000, 400_000]
    X = np.random.default_rng(0).normal(size=(2000, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    scorer = PrototypeScorer(clusters=4, normalize=True).fit(mapped)
    assert scorer.clusterer_.max_iter == 100  # 25 iterations are affordable: the method's own limit
    monkeypatch.setattr(prototype_scorer, "FIT_MULTIPLY_ADDS", 4 * 256 * 8 * 3)  # 3 iterations' worth
    scorer = PrototypeScorer(clusters=4, normalize=True).fit(mapped)
    assert scorer.clusterer_.max_iter == 8 and scorer.labels_.shape == (2000,)
