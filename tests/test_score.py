import numpy as np

from edgeprune.score import l2_normalize, prototype_scores, rank_in_cluster


def test_distance_to_nearest_prototype_matches_brute_force():
    rng = np.random.default_rng(0)
    X, centers = rng.normal(size=(500, 8)), rng.normal(size=(5, 8))
    labels, distances = prototype_scores(X, centers)
    brute = np.linalg.norm(X[:, None] - centers[None], axis=2)
    np.testing.assert_array_equal(labels, brute.argmin(1))
    np.testing.assert_allclose(distances, brute.min(1), rtol=1e-4, atol=1e-4)


def test_normalised_euclidean_orders_like_cosine():
    rng = np.random.default_rng(1)
    X, center = rng.normal(size=(100, 6)), rng.normal(size=(1, 6))
    Xn, cn = l2_normalize(X), l2_normalize(center)
    _, d = prototype_scores(Xn, cn)
    cosine = 1 - (Xn @ cn.T)[:, 0]
    assert (np.argsort(d) == np.argsort(cosine)).all()
    assert np.allclose(np.linalg.norm(l2_normalize(np.zeros((2, 3)) + [[3, 4, 0], [0, 0, 0]]), axis=1), [1, 0])


def test_rank_in_cluster():
    distances = np.array([0.5, 0.1, 0.9, 0.3, 0.2])
    labels = np.array([0, 0, 1, 1, 0])
    np.testing.assert_array_equal(rank_in_cluster(distances, labels), [2, 0, 1, 0, 1])
