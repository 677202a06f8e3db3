"""The coverage policies on toy data, each showing its defining behaviour: TypiClust one dense pick per cluster,
ProbCover balls that cover, CCS's stratum counts, ZCore's coverage over redundancy, and round-robin over groups."""

from __future__ import annotations

import numpy as np
import pytest

from edgeprune.curation.coverage import (
    ball_graph,
    ccs_order,
    deal_by_group,
    probcover_order,
    purity_delta,
    typical_order,
    zcore_scores,
)
from edgeprune.curation.select import CoverageSettings, select
from edgeprune.errors import EdgepruneError
from edgeprune.vectors import l2_normalize


def blobs(sizes=(60, 40, 20), spread=0.05, dim=8, seed=0):
    """Unit vectors in tight blobs around orthogonal directions; labels are the blobs."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for blob, size in enumerate(sizes):
        centre = np.eye(dim)[blob]
        rows.append(centre + rng.normal(scale=spread, size=(size, dim)))
        labels += [blob] * size
    return l2_normalize(np.concatenate(rows)).astype(np.float32), np.array(labels)


def test_typical_takes_one_dense_image_per_cluster_largest_first():
    X, labels = blobs()
    order = typical_order(X, 3, seed=0)
    assert sorted(labels[order[:3]]) == [0, 1, 2]  # one per cluster
    assert labels[order[0]] == 0  # the largest cluster first
    for pick in order[:3]:  # the most typical: nearer its blob's centre than most of its blob
        members = X[labels == labels[pick]]
        centre = members.mean(axis=0)
        distances = np.linalg.norm(members - centre, axis=1)
        assert np.linalg.norm(X[pick] - centre) <= np.quantile(distances, 0.25)
    assert sorted(labels[order[3:6]]) == [0, 1, 2]  # round two: each cluster's next most typical
    assert sorted(order.tolist()) == list(range(len(X)))


def test_probcover_balls_cover_every_image_with_one_pick_per_blob():
    X, labels = blobs()
    delta = 0.4  # wider than a blob (about 0.2 across), narrower than the gap between blobs (1.4)
    order = probcover_order(X, delta, seed=0)
    first = order[:3]
    assert sorted(labels[first]) == [0, 1, 2] and labels[first[0]] == 0  # the biggest ball first
    covered = ball_graph(X, delta)[first].sum(axis=0) > 0
    assert np.asarray(covered).all()  # three balls of radius delta cover everything
    assert sorted(order.tolist()) == list(range(len(X)))


def test_purity_picks_the_largest_radius_whose_balls_stay_in_one_cluster():
    X, labels = blobs()
    delta = purity_delta(X, labels, purity=0.95, grid=np.linspace(0.1, 2.0, 20))
    assert 0.3 < delta < 1.4  # above a blob's width, below the distance between blobs
    graph = ball_graph(X, delta).tocoo()
    assert (labels[graph.row] == labels[graph.col]).all()


def test_purity_that_no_radius_meets_falls_back_to_the_smallest_and_says_so(caplog):
    X, _ = blobs()
    mixed = np.arange(len(X)) % 2  # labels that cut every blob: every ball mixes them
    with caplog.at_level("WARNING"):
        delta = purity_delta(X, mixed, purity=0.95, grid=np.array([0.4, 0.2, 0.8]))
    assert delta == 0.2 and "no radius on the grid keeps 95% of the balls within one cluster" in caplog.text


def test_ccs_drops_the_hardest_share_and_samples_strata_evenly():
    scores = np.linspace(0.0, 1.0, 1000)  # uniform: 20 images per stratum of 50
    order = ccs_order(scores, 100, beta=0.1, strata=50, seed=0)
    chosen = order[:100]
    assert scores[chosen].max() < 0.9  # the hardest 10% never chosen
    strata = np.clip(np.floor(scores[chosen] / 0.9 * 50), 0, 49).astype(int)
    assert np.bincount(strata, minlength=50).tolist() == [2] * 50  # two per stratum
    assert (order[-100:] == np.argsort(scores)[-100:]).all()  # the dropped ones last, hardest at the end


def test_ccs_gives_a_small_stratum_s_share_to_the_others():
    scores = np.r_[np.zeros(3), np.linspace(0.5, 1.0, 97)]  # stratum 0 holds 3 images, the rest spread out
    chosen = ccs_order(scores, 40, beta=0.0, strata=2, seed=0)[:40]
    assert (scores[chosen] == 0).sum() == 3 and len(set(chosen.tolist())) == 40  # all 3, the rest from stratum 1


def test_zcore_prefers_coverage_over_redundancy():
    rng = np.random.default_rng(0)
    dense = np.tile(rng.normal(size=(1, 4)), (50, 1)) + rng.normal(scale=1e-3, size=(50, 4))  # 50 near-copies
    spread = rng.normal(size=(50, 4)) * 3
    scores = zcore_scores(np.r_[dense, spread], samples=5000, seed=0)
    assert np.median(scores[50:]) > np.median(scores[:50])
    assert not (np.argsort(-scores)[:10] < 50).any()  # the ten kept first all come from the spread-out part
    assert scores.min() == 0.0 and scores.max() == 1.0


def test_deal_by_group_gives_every_group_one_before_any_gets_two():
    order = np.arange(10)
    groups = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    dealt = deal_by_group(order, groups)
    assert set(groups[dealt[:3]]) == {"a", "b", "c"}
    assert dealt.tolist() == [0, 6, 9, 1, 7, 2, 8, 3, 4, 5]


@pytest.mark.parametrize("policy", ["typical", "probcover", "ccs", "zcore", "easy", "hard", "random"])
def test_select_with_groups_spreads_over_every_group(policy):
    X, labels = blobs(sizes=(80, 10, 10))
    groups = np.repeat(np.arange(10), 10)  # 10 videos of 10 frames
    distances = np.random.default_rng(1).random(len(X))
    mask = select(
        distances, labels, keep=0.1, policy=policy, features=X, groups=groups,
        coverage=CoverageSettings(delta=0.4),
    )  # fmt: skip
    assert mask.sum() == 10 and sorted(groups[mask]) == list(range(10))


def test_select_refuses_groups_with_a_policy_without_an_order():
    X, labels = blobs()
    with pytest.raises(ValueError, match="groups work with the policies"):
        select(np.zeros(len(X)), labels, keep=0.1, policy="coreset", features=X, groups=labels)


@pytest.mark.parametrize("policy", ["typical", "probcover", "ccs", "zcore"])
def test_curate_keeps_the_exact_count_spread_over_the_groups(curate, digits_coco, tmp_path, policy):
    import csv

    from edgeprune.datasets import read_dataset

    names = sorted(img.file_name for img in read_dataset(digits_coco).images)
    groups = tmp_path / "groups.csv"
    groups.write_text("image,group\n" + "".join(f"{name},clip{i % 5}\n" for i, name in enumerate(names)))
    code, out = curate(digits_coco, "--policy", policy, "--keep", "0.12", "-k", "3", "--groups", groups)
    assert code == 0
    with (out / "scores.csv").open() as fh:
        kept = [row["image"] for row in csv.DictReader(fh) if row["kept"] == "1"]
    assert len(kept) == round(0.12 * len(names)) == 5
    clip = {name: i % 5 for i, name in enumerate(names)}
    assert sorted(clip[name] for name in kept) == [0, 1, 2, 3, 4]  # one per clip


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--policy", "coreset", "--groups", "GROUPS"],
            "deals a policy's order over the groups: use it with --policy hard, easy",
        ),
        (["--policy", "typical", "--level", "object"], "--policy typical covers the image embedding space"),
        (["--policy", "ccs", "--ccs-beta", "1.5"], "--ccs-beta 1.5 must be a share in [0, 1)"),
        (["--policy", "probcover", "--probcover-delta", "3"], "--probcover-delta 3.0 must be a distance in (0, 2]"),
        (["--policy", "typical", "--groups", "PARTIAL"], "images have no group (first: 'scene_00001.jpg')"),
    ],
)
def test_bad_coverage_settings_are_one_line(curate, digits_coco, tmp_path, capsys, extra, message):
    (tmp_path / "groups.csv").write_text("image,group\n")
    (tmp_path / "partial.csv").write_text("image,group\nscene_00000.jpg,a\n")
    paths = {"GROUPS": tmp_path / "groups.csv", "PARTIAL": tmp_path / "partial.csv"}
    code, out = curate(digits_coco, *[paths.get(e, e) for e in extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and not out.exists()


def test_stride_takes_evenly_spaced_frames_of_every_video():
    from edgeprune.curation.select import stride_selection

    assert np.flatnonzero(stride_selection(20, 4, None, seed=0)).tolist() == [3, 8, 13, 18]  # every 5th
    videos = np.array([0] * 10 + [1] * 6 + [2] * 4)
    picked = np.flatnonzero(stride_selection(20, 6, videos, seed=1))
    assert np.bincount(videos[picked]).tolist() == [3, 2, 1]  # shares in proportion, one at least
    assert picked.tolist() == [1, 5, 8, 11, 14, 18]  # about every 3rd frame of each video, at one phase
    assert stride_selection(20, 3, videos, seed=0).sum() == 3


def test_the_library_names_parameters_not_flags(digits_coco, tmp_path):
    import edgeprune

    with pytest.raises(EdgepruneError, match=r"^ccs_beta=1.5 must be a share in \[0, 1\)$"):
        edgeprune.curate(digits_coco, out=tmp_path / "out", policy="ccs", ccs_beta=1.5)
    with pytest.raises(EdgepruneError, match="^runner=beam needs a work directory: work_dir=PATH"):
        edgeprune.curate(digits_coco, out=tmp_path / "out", runner="beam")
    assert not (tmp_path / "out").exists()
