import math

import numpy as np
import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.select import keep_count, select


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [10, 7, 1, 22])
    return rng.random(len(labels)), labels


@pytest.mark.parametrize("keep", [0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
def test_per_cluster_hard_follows_the_reference_rule(scores, keep):
    distances, labels = scores
    mask = select(distances, labels, keep=keep, policy="hard")
    prune = 1 - keep
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        ordered = members[np.argsort(distances[members])]
        n = len(members)
        n_easy = n - math.ceil(round((1 - prune) * n, 9))
        assert not mask[ordered[:n_easy]].any() and mask[ordered[n_easy:]].all()


def test_easy_keeps_the_nearest(scores):
    distances, labels = scores
    mask = select(distances, labels, keep=0.5, policy="easy")
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        assert distances[members][mask[members]].max() <= distances[members][~mask[members]].min(initial=np.inf)


def test_global_hard_is_a_threshold(scores):
    distances, labels = scores
    mask = select(distances, labels, keep=0.25, policy="hard", per_cluster=False)
    assert mask.sum() == math.ceil(0.25 * len(distances))
    assert distances[mask].min() >= distances[~mask].max()


def test_stratified_hits_the_exact_total_with_a_share_of_every_cluster(scores):
    distances, labels = scores
    mask = select(distances, labels, keep=0.3, policy="stratified")
    assert mask.sum() == round(0.3 * len(distances))
    assert all(mask[labels == c].any() for c in np.unique(labels))


def test_random_is_seeded_and_matches_counts(scores):
    distances, labels = scores
    a = select(distances, labels, keep=0.5, policy="random", seed=3)
    b = select(distances, labels, keep=0.5, policy="random", seed=3)
    c = select(distances, labels, keep=0.5, policy="random", seed=4)
    assert (a == b).all() and (a != c).any()
    assert a.sum() == select(distances, labels, keep=0.5, policy="hard").sum()


def test_keep_count_is_robust_to_float_noise():
    assert keep_count(10, 0.7) == 7
    assert keep_count(10, 1 - 0.3) == 7


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5])
def test_keep_outside_range(scores, keep):
    with pytest.raises(EdgepruneError, match=r"keep fraction must be in \(0, 1\]"):
        select(*scores, keep=keep)


def test_unknown_policy(scores):
    with pytest.raises(EdgepruneError, match="choose one of hard, easy, random, stratified"):
        select(*scores, keep=0.5, policy="medium")


def test_cover_categories_swaps_in_images_of_a_short_category_and_holds_the_budget():
    from edgeprune.select import cover_categories, preference

    counts = np.array([[5, 0], [4, 0], [3, 0], [2, 1], [1, 0], [0, 2]])  # category 1 only in images 3 and 5
    distances = np.array([6.0, 5.0, 4.0, 1.0, 3.0, 0.5])
    kept = select(distances, np.zeros(6, int), keep=0.5, policy="hard")
    assert kept.tolist() == [True, True, True, False, False, False]
    covered, added = cover_categories(kept, counts, 1, preference(distances, "hard"))
    assert added == 1  # image 3 (the harder of the two holding category 1) swapped in for image 2
    assert covered.tolist() == [True, True, False, True, False, False]
    covered, added = cover_categories(kept, counts, 2, preference(distances, "hard"))
    assert added == 2 and covered.tolist() == [True, False, False, True, False, True]  # budget of 3 held


def test_cover_categories_floor_is_what_a_category_has_and_never_drops_below_it():
    from edgeprune.select import cover_categories

    counts = np.array([[3, 0, 0], [0, 1, 0], [0, 1, 0], [2, 0, 1], [4, 0, 0]])
    kept = np.array([True, False, False, False, True])
    covered, added = cover_categories(kept, counts, 5, np.arange(5.0))
    totals = counts[covered].sum(axis=0)
    assert totals[1] == 2 and totals[2] == 1  # each category keeps all it has, since it has fewer than 5
    assert added == 3 and covered.tolist() == [False, True, True, True, True]  # only image 0 could leave
    assert totals[0] >= 5
