import numpy as np

from edgeprune.curation.score import l2_normalize, prototype_scores, rank_in_cluster


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


def test_cosine_scores_use_normalised_centres_and_can_rank_unlike_euclidean():
    from edgeprune.cluster import fit_prototypes

    X = l2_normalize(np.array([[1.0, 0.0], [0.75, 0.66], [0.0, 1.0], [-0.6, 0.8]]))
    centers = np.array([[0.2, 0.0], [0.0, 0.9]])  # raw centroids inside the sphere, of unequal norm
    labels, distances = prototype_scores(X, centers, "cosine")
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    np.testing.assert_allclose(distances, [0.0, 1 - X[1, 0], 0.0, 0.2], atol=1e-6)
    euclid_labels, _ = prototype_scores(X, centers)
    assert euclid_labels[1] == 1  # nearer the long centroid in raw distance, though at a wider angle
    rng = np.random.default_rng(0)
    points = l2_normalize(rng.normal(size=(300, 5)) + np.repeat(np.eye(5)[:3] * 3, 100, axis=0))
    fitted = fit_prototypes("kmeans", 3, points, random_state=0, metric="cosine")
    np.testing.assert_allclose(np.linalg.norm(fitted.cluster_centers_, axis=1), 1.0, rtol=1e-5)
    labels, distances = prototype_scores(points, fitted.cluster_centers_, "cosine")
    np.testing.assert_allclose(distances, 1 - (points @ fitted.cluster_centers_.T).max(axis=1), atol=1e-5)
    assert (distances >= 0).all() and len(np.unique(labels)) == 3
