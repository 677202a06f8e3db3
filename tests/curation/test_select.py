import math

import numpy as np
import pytest

from edgeprune.curation.select import balanced_selection, k_center_greedy, keep_count, proportional_counts, select
from edgeprune.errors import EdgepruneError


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
    with pytest.raises(EdgepruneError, match="choose one of hard, easy, random, stratified, coreset, balanced"):
        select(*scores, keep=0.5, policy="medium")


def test_cover_categories_swaps_in_images_of_a_short_category_and_holds_the_budget():
    from edgeprune.curation.select import cover_categories, preference

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
    from edgeprune.curation.select import cover_categories

    counts = np.array([[3, 0, 0], [0, 1, 0], [0, 1, 0], [2, 0, 1], [4, 0, 0]])
    kept = np.array([True, False, False, False, True])
    covered, added = cover_categories(kept, counts, 5, np.arange(5.0))
    totals = counts[covered].sum(axis=0)
    assert totals[1] == 2 and totals[2] == 1  # each category keeps all it has, since it has fewer than 5
    assert added == 3 and covered.tolist() == [False, True, True, True, True]  # only image 0 could leave
    assert totals[0] >= 5


@pytest.mark.parametrize("policy", ["hard", "easy", "random"])
@pytest.mark.parametrize("keep", [0.1, 0.25, 0.5])
def test_exact_keeps_round_keep_n_where_the_per_cluster_ceil_over_keeps(policy, keep):
    labels = np.repeat(np.arange(40), 5)  # many small clusters: ceil(0.1 x 5) = 1 each is 20%, not 10%
    distances = np.random.default_rng(0).random(len(labels))
    loose = select(distances, labels, keep=keep, policy=policy)
    exact = select(distances, labels, keep=keep, policy=policy, exact=True)
    assert exact.sum() == round(keep * len(labels))
    assert loose.sum() >= exact.sum() and (keep > 0.2 or loose.sum() == 40)


def test_exact_hard_still_keeps_the_hardest_of_each_cluster():
    labels = np.repeat([0, 1], [30, 10])
    distances = np.random.default_rng(1).random(40)
    mask = select(distances, labels, keep=0.5, policy="hard", exact=True)
    assert mask[labels == 0].sum() == 15 and mask[labels == 1].sum() == 5
    for c in (0, 1):
        members = labels == c
        assert distances[members & mask].min() >= distances[members & ~mask].max()


def test_count_sets_the_total_directly():
    distances, labels = np.random.default_rng(2).random(30), np.repeat([0, 1, 2], 10)
    assert select(distances, labels, keep=0.5, policy="hard", count=7).sum() == 7


def test_stratified_does_not_overshoot_when_clusters_outnumber_the_target():
    labels = np.arange(50)  # 50 singleton clusters, target round(0.1 x 50) = 5
    mask = select(np.random.default_rng(0).random(50), labels, keep=0.1, policy="stratified")
    assert mask.sum() == 5


def test_proportional_counts_sum_to_the_total_and_respect_sizes():
    assert proportional_counts(np.array([5, 3, 2]), 5) == [3, 1, 1]
    assert proportional_counts(np.array([5, 3, 2, 1, 1]), 3, at_least_one=True) == [1, 1, 1, 0, 0]
    assert proportional_counts(np.array([5, 3, 2, 1, 1]), 6, at_least_one=True) == [2, 1, 1, 1, 1]
    rng = np.random.default_rng(3)
    for _ in range(50):
        sizes = rng.integers(1, 20, size=rng.integers(1, 12))
        total = int(rng.integers(1, sizes.sum() + 1))
        counts = np.array(proportional_counts(sizes, total, at_least_one=bool(rng.integers(2))))
        assert counts.sum() == total and (counts <= sizes).all() and (counts >= 0).all()


def test_coreset_covers_every_blob_before_taking_a_second_point_from_any():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 8)) * 20
    blob = np.repeat(np.arange(6), [200, 5, 5, 50, 3, 100])  # very unequal blob sizes
    X = centres[blob] + rng.normal(size=(len(blob), 8)) * 0.1
    chosen = k_center_greedy(X, 6, seed=1)
    assert sorted(blob[chosen]) == list(range(6))
    mask = select(np.zeros(len(blob)), np.zeros(len(blob), int), keep=0.02, policy="coreset", features=X)
    assert mask.sum() == round(0.02 * len(blob)) and set(blob[mask]) == set(range(6))
    random = select(np.zeros(len(blob)), np.zeros(len(blob), int), keep=0.02, policy="random", per_cluster=False)
    assert len(set(blob[random])) < 6  # the baseline misses the small blobs


def test_coreset_matches_brute_force_farthest_point_sampling():
    X = np.random.default_rng(4).normal(size=(60, 3)).astype(np.float32)
    chosen = list(k_center_greedy(X, 10, seed=0))
    brute = [chosen[0]]
    for _ in range(9):
        d = np.linalg.norm(X[:, None] - X[brute][None], axis=2).min(axis=1)
        brute.append(int(np.argmax(d)))
    assert chosen == brute


def test_balanced_evens_out_a_long_tail_and_takes_the_hardest_within_a_category():
    counts = np.zeros((120, 3), int)
    counts[:100, 0] = 1  # 100 images of a common class
    counts[100:115, 1] = 1  # 15 of a rarer one
    counts[115:, 2] = 1  # 5 of the rarest
    distances = np.random.default_rng(0).random(120)
    mask = balanced_selection(counts, distances, 24)
    assert mask.sum() == 24 and counts[mask].sum(axis=0).tolist() == [9, 10, 5]  # ties go to the rarer class
    common = np.flatnonzero(counts[:, 0])
    assert distances[common[mask[common]]].min() >= distances[common[~mask[common]]].max()
    via_select = select(distances, np.zeros(120, int), keep=0.2, policy="balanced", box_counts=counts)
    assert (via_select == mask).all()
    random_counts = counts[select(distances, np.zeros(120, int), keep=0.2, policy="random", exact=True)].sum(0)
    assert random_counts[2] < 5  # what balanced fixes


def test_policies_that_need_embeddings_or_boxes_say_so():
    distances, labels = np.zeros(10), np.zeros(10, int)
    with pytest.raises(ValueError, match="coreset policy needs one embedding per sample"):
        select(distances, labels, keep=0.5, policy="coreset")
    with pytest.raises(ValueError, match="balanced policy needs per-image box counts"):
        select(distances, labels, keep=0.5, policy="balanced", box_counts=np.zeros((3, 2)))


def test_diversity_takes_one_of_each_near_copy_family_and_deals_over_groups():
    from edgeprune.vectors import l2_normalize

    rng = np.random.default_rng(0)
    directions = l2_normalize(rng.normal(size=(4, 8)))
    families = np.repeat(np.arange(4), 5)  # four families of five near-copies each
    features = l2_normalize(directions[families] + rng.normal(scale=0.01, size=(20, 8)))
    kept = select(np.zeros(20), np.zeros(20, int), keep=0.2, policy="diversity", features=features)
    assert sorted(families[kept]) == [0, 1, 2, 3]  # 4 picks: one per family, never two near-copies
    videos = np.array(["a"] * 10 + ["b"] * 10)  # families 0-1 in video a, 2-3 in video b
    kept = select(np.zeros(20), np.zeros(20, int), keep=0.1, policy="diversity", features=features, groups=videos)
    assert sorted(videos[kept]) == ["a", "b"]
    only = select(np.zeros(20), np.zeros(20, int), keep=0.5, policy="diversity", features=features)
    assert only.sum() == 4  # ten asked, but only four images are not near-copies of a pick
    with pytest.raises(ValueError, match="needs one embedding per sample"):
        select(np.zeros(20), np.zeros(20, int), keep=0.2, policy="diversity")
