"""``edgeprune split``: near-copies never cross splits, user groups stay together and are never chained into one,
categories are stratified, the result is deterministic and independent of listing order, and bad input is one
line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.curation.dedup import near_copy_pairs
from edgeprune.curation.groups import link_groups, separate
from edgeprune.datasets import read_dataset
from edgeprune.splits import assign_groups


def _split(tmp_path, dataset, backbone, *extra, out="out"):
    argv = ["-q", "split", str(dataset), "--out", str(tmp_path / out), "--backbone", str(backbone)]
    argv += ["--image-size", "64", "--cache-dir", str(tmp_path / "cache"), *extra]
    return main(argv), tmp_path / out


def _assignment(out) -> dict[str, str]:
    with (out / "split.csv").open() as fh:
        return {row["image"]: row["split"] for row in csv.DictReader(fh)}


def test_near_copies_of_ungrouped_images_stay_together():
    a, b, c = np.array([1.0, 0.0]), np.array([np.cos(0.3), np.sin(0.3)]), np.array([np.cos(0.6), np.sin(0.6)])
    far = np.array([-1.0, 0.0])
    features = np.stack([a, b, c, far])  # a~b and b~c at 0.95 (cos 0.3 = 0.955), a and c are not (cos 0.6 = 0.825)
    groups = link_groups(features, ["h0", "h1", "h2", "h3"], [None] * 4, 0.95)
    assert groups[0] == groups[1] == groups[2] != groups[3]
    same_file = link_groups(features, ["h0", "h1", "h2", "h0"], [None] * 4, 0.99)  # byte-identical: one group
    assert same_file[0] == same_file[3] and len(set(same_file)) == 3
    given = link_groups(features, ["h0", "h1", "h2", "h3"], ["v1", None, None, "v1"], 0.99)
    assert given[0] == given[3] and len(set(given)) == 3


def clips_of_one_scene(n_clips=60, frames=30, dim=32, seed=0):
    """Embeddings of ``n_clips`` clips of one scene: frames drift slowly around their clip's view of a shared
    scene, so consecutive frames are near-copies (cosine > 0.95) and clips are not, except for one planted stray
    near-copy between every pair of neighbouring clips, a chain through the whole collection."""
    rng = np.random.default_rng(seed)
    scene = rng.normal(size=dim) * 3
    rows, clip_of = [], []
    for clip in range(n_clips):
        view = scene + rng.normal(size=dim)
        steps = np.cumsum(rng.normal(scale=0.04, size=(frames, dim)), axis=0)
        rows.append(view + steps)
        clip_of += [f"clip{clip:02d}"] * frames
    X = np.concatenate(rows)
    for clip in range(1, n_clips):  # the chain: frame 0 of each clip copies the last frame of the one before
        X[clip * frames] = X[clip * frames - 1] + rng.normal(scale=0.01, size=dim)
    return X.astype(np.float32), clip_of


def test_clips_of_one_scene_do_not_chain_into_one_group():
    """Issue 35: one stray near-copy between neighbouring clips chained every clip into one component. Now each
    clip stays one group, the ratios hold, and the few frames that copy across a split boundary are dropped."""
    from edgeprune.curation.features import scoring_features

    X, clip_of = clips_of_one_scene()
    features = scoring_features(X)
    i, j = near_copy_pairs(features, 0.95)
    assert (np.array(clip_of)[i] != np.array(clip_of)[j]).sum() >= 59  # every neighbouring pair is linked
    hashes = [str(k) for k in range(len(X))]
    groups = link_groups(features, hashes, clip_of, 0.95, max_group=180)
    assert len(set(groups)) == 60  # one group per clip, none merged
    assert all(len({groups[k] for k in np.flatnonzero(np.array(clip_of) == c)}) == 1 for c in set(clip_of))
    split = assign_groups(groups, np.ones((len(X), 1), np.int64), [0.8, 0.1, 0.1], seed=0)
    dropped = separate(X, split, 0.95, [0.8, 0.1, 0.1])
    crossing = sum(split[k * 30] != split[k * 30 - 1] for k in range(1, 60))
    assert 0 < len(dropped) == crossing  # one frame per clip boundary that crosses a split
    kept = np.setdiff1d(np.arange(len(X)), [d.index for d in dropped])
    shares = np.bincount(split[kept], minlength=3) / len(kept)
    assert np.abs(shares - [0.8, 0.1, 0.1]).max() < 0.03
    a, b = near_copy_pairs(scoring_features(X[kept]), 0.95)
    assert (split[kept][a] == split[kept][b]).all()  # no near-copy left across splits
    assert all(split[d.partner] != d.split and d.similarity >= 0.95 - 1e-5 for d in dropped)


def test_strong_links_merge_but_never_past_the_cap():
    """A clip that mostly repeats another merges with it; the cap stops merges at ``max_group`` images."""
    X, clip_of = clips_of_one_scene(n_clips=4, frames=20)
    X[20:40] = X[0:20] + np.random.default_rng(1).normal(scale=0.01, size=(20, X.shape[1]))  # clip01 repeats clip00
    from edgeprune.curation.features import scoring_features

    features = scoring_features(X)
    hashes = [str(k) for k in range(len(X))]
    merged = link_groups(features, hashes, clip_of, 0.95)
    assert merged[0] == merged[20] and len(set(merged)) == 3
    capped = link_groups(features, hashes, clip_of, 0.95, max_group=30)
    assert capped[0] != capped[20] and len(set(capped)) == 4


def test_stratification_spreads_a_rare_category():
    rng = np.random.default_rng(0)
    boxes = np.zeros((200, 2), np.int64)
    boxes[:, 0] = rng.integers(1, 4, 200)
    boxes[rng.choice(200, 20, replace=False), 1] = 1  # a rare category in 20 images
    split = assign_groups(np.arange(200), boxes, [0.8, 0.1, 0.1], seed=0)
    assert np.abs(np.bincount(split, minlength=3) - [160, 20, 20]).max() <= 1  # boxes, not images, are balanced
    assert np.bincount(split[boxes[:, 1] > 0], minlength=3).tolist() == [16, 2, 2]


def test_bccd_split_has_no_leak_and_follows_the_ratios(tmp_path, bccd, tiny_backbone):
    code, out = _split(tmp_path, bccd, tiny_backbone, "--threshold", "0.99")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["leaks"] == 0 and sum(summary["images"].values()) + summary["dropped"] == 364
    assert summary["dropped"] <= 3  # the few near-copies that link two groups are left out, not chained
    with (out / "dropped.csv").open() as fh:
        dropped = list(csv.DictReader(fh))
    assert len(dropped) == summary["dropped"] and all(row["split"] != row["its_split"] for row in dropped)
    splits = {name: read_dataset(out / name) for name in ("train", "val", "test")}
    names = [{img.file_name for img in d.images} for d in splits.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert sum(len(n) for n in names) == 364 - len(dropped)
    for name, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(len(splits[name]) / 364 - share) < 0.05
    assert max(summary["share_gap"].values()) < 3.0  # category shares close to the whole
    leak_summary = json.loads((out / "leak_check" / "summary.json").read_text())
    assert leak_summary["flagged"] == 0 and leak_summary["checked"] == len(splits["val"]) + len(splits["test"])
    assert not (out / "train" / "ImageSets").exists()  # the input's own split lists do not describe the new ones


def test_near_copies_and_given_groups_stay_together_and_order_does_not_matter(tmp_path, digits_coco, pixel_backbone):
    dataset = read_dataset(digits_coco)
    planted = {img.file_name: img.extra["duplicate_of"] for img in dataset.images if "duplicate_of" in img.extra}
    names = {img.id: img.file_name for img in dataset.images}
    groups = tmp_path / "groups.csv"
    groups.write_text("image,group\nscene_00000.jpg,clip1\nscene_00005.jpg,clip1\nscene_00009.jpg,clip1\n")
    code, out = _split(tmp_path, digits_coco, pixel_backbone, "--threshold", "0.995", "--groups", str(groups))
    assert code == 0
    assignment = _assignment(out)
    for copy, original in planted.items():
        assert assignment[copy] == assignment[names[original]]
    assert len({assignment[f"scene_0000{i}.jpg"] for i in (0, 5, 9)}) == 1
    # the same images listed in reverse order: the same split
    coco = json.loads((digits_coco / "annotations.json").read_text())
    coco["images"].reverse()
    reordered = tmp_path / "reordered"
    reordered.mkdir()
    (reordered / "images").symlink_to(digits_coco / "images")
    (reordered / "annotations.json").write_text(json.dumps(coco))
    code, again = _split(tmp_path, reordered, pixel_backbone, "--threshold", "0.995", "--groups", str(groups), out="o2")
    assert code == 0 and _assignment(again) == assignment
    code, other_seed = _split(tmp_path, digits_coco, pixel_backbone, "--threshold", "0.995", "--seed", "1", out="o3")
    assert code == 0 and _assignment(other_seed) != assignment


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--ratios", "0.8,0.3"], "--ratios 0.8,0.3 must be two or more positive shares that sum to 1"),
        (["--names", "a,b"], "--names a,b must give 3 distinct names"),
        (["--groups", "GROUPS_UNKNOWN"], "image 'nope.jpg' is not in the dataset"),
        (["--groups", "GROUPS_HEADER"], "needs a header with 'image' and 'group' columns"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, digits_coco, pixel_backbone, capsys, extra, message):
    (tmp_path / "unknown.csv").write_text("image,group\nnope.jpg,g\n")
    (tmp_path / "header.csv").write_text("file,clip\nscene_00000.jpg,g\n")
    paths = {"GROUPS_UNKNOWN": str(tmp_path / "unknown.csv"), "GROUPS_HEADER": str(tmp_path / "header.csv")}
    code, out = _split(tmp_path, digits_coco, pixel_backbone, *[paths.get(e, e) for e in extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_python_api_with_two_named_splits(tmp_path, digits_coco, pixel_backbone):
    import edgeprune

    result = edgeprune.split(
        digits_coco, out=tmp_path / "api", ratios=[0.5, 0.5], names=["a", "b"], backbone=str(pixel_backbone),
        image_size=64, cache_dir=str(tmp_path / "cache"), threshold=0.995, progress=False,
    )  # fmt: skip
    assert set(result.images) == {"a", "b"} and sum(result.images.values()) == 43 and result.leaks == 0
    assert abs(result.images["a"] - result.images["b"]) <= 3
    assert read_dataset(tmp_path / "api" / "a").format == "coco"


def test_split_of_clips_by_groups_follows_the_ratios_and_cuts_no_clip(tmp_path, capsys):
    """The CLI on a folder of frames from 60 clips of one scene, chained by stray near-copies (issue 35):
    ``--groups`` by clip, the ratios within a few points, no clip cut, the dropped frames listed, no leak."""
    from PIL import Image

    X, clip_of = clips_of_one_scene(frames=10)
    frames = tmp_path / "frames"
    frames.mkdir()
    names = [f"{clip}_{k % 10:03d}.png" for k, clip in enumerate(clip_of)]
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(frames / name)
    np.savez(tmp_path / "emb.npz", keys=np.array(names), embeddings=X)
    (tmp_path / "groups.csv").write_text("image,group\n" + "".join(f"{n},{c}\n" for n, c in zip(names, clip_of)))
    argv = ["split", str(frames), "--out", str(tmp_path / "out"), "--embeddings", str(tmp_path / "emb.npz")]
    assert main([*argv, "--groups", str(tmp_path / "groups.csv"), "--ratios", "0.8,0.1,0.1"]) == 0
    screen = capsys.readouterr().out
    assert "600 images" not in screen and "60 groups" in screen and "from 60 given groups" in screen
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    written = sum(summary["images"].values())
    assert summary["leaks"] == 0 and 0 < summary["dropped"] <= 59 and written + summary["dropped"] == 600
    assert f"{summary['dropped']} images: near-copies of an image in another split" in screen
    for name, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(summary["images"][name] / written - share) < 0.05
    with (tmp_path / "out" / "split.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    splits_of_clip: dict[str, set] = {}
    for row in rows:
        if row["split"] != "dropped":
            splits_of_clip.setdefault(row["image"].split("_")[0], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in splits_of_clip.values())  # no clip is cut
