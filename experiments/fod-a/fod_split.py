"""A video-disjoint split of FOD-A (Munyer et al. 2021), for experiments that must not validate on near-copies.

FOD-A's upstream ``trainval``/``test`` lists are drawn per frame from videos, so nearly every test frame has its
neighbour in trainval. This tool rebuilds the videos from the frame order and cuts them apart:

1. **Segments.** Frames are numbered in recording order. A new segment starts where the first object's class
   changes, where its box centre jumps by more than ``--jump`` pixels between consecutive frames, or where the
   32x32 grey thumbnails of consecutive frames differ by more than ``--cut`` (mean absolute difference, 0..255).
   Every object in FOD-A carries the CVAT ``track_id`` 0, so tracks cannot separate videos by themselves.
2. **Held-out segments.** Within each class, whole segments are drawn in a seeded order; a segment is held out
   while it fits within 1.25 x ``--val-share`` of the class's frames, until the share is reached. If none fits,
   the smallest is held out, unless it holds half the class. A class seen in a single segment is not held out
   (it has no second video to validate on), so it is missing from ``val``. ``--guard`` frames on both sides of a
   held-out segment go to neither split, so a cut the detector missed cannot leak a frame across.
3. **Files.** ``train`` gets every remaining frame. ``val`` gets every ``--val-stride``-th held-out frame
   (consecutive frames are near-identical, so this costs little information and makes evaluation cheap), and
   ``val_all`` gets all of them. The ``tune`` split is a held-out slice of ``train`` built the same way, for
   choosing settings without touching ``val``.

    python experiments/fod-a/fod_split.py data/fod_a --out experiments/fod-a/results/split

writes ``train.txt``, ``val.txt``, ``val_all.txt``, ``tune.txt``, ``tune_train.txt`` (train minus tune and its
guards) and ``split.json`` (the settings, the segment table and the leak check: the distance from each val frame's
thumbnail to its nearest train thumbnail, against the same figure for the upstream split). Copy the ``.txt``
files into ``<dataset>/ImageSets/Main/`` to read them with ``--split`` (``experiments/fod-a/get_fod_a.sh`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image


def read_frames(root: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Frame ids in recording order, the first object's class and its box centre per frame."""
    ids, names, centres = [], [], []
    for xml_file in sorted((root / "Annotations").glob("*.xml")):
        first = ET.parse(xml_file).getroot().find("object")
        if first is None:
            sys.exit(f"{xml_file}: no <object>; FOD-A frames all have one")
        box = [float(first.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
        ids.append(xml_file.stem)
        names.append(first.findtext("name"))
        centres.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
    return ids, names, np.array(centres, np.float32)


def thumbnails(root: Path, ids: list[str]) -> np.ndarray:
    """32x32 grey thumbnails, flattened, as float32."""
    return np.stack(
        [
            np.asarray(Image.open(root / "JPEGImages" / f"{i}.jpg").convert("L").resize((32, 32)), np.float32).ravel()
            for i in ids
        ]
    )


def segment_starts(names: list[str], centres: np.ndarray, thumbs: np.ndarray, jump: float, cut: float) -> np.ndarray:
    """Indices where a new segment begins (0 included)."""
    changed = np.array([a != b for a, b in zip(names[:-1], names[1:])])
    moved = np.linalg.norm(np.diff(centres, axis=0), axis=1) > jump
    differs = np.abs(np.diff(thumbs, axis=0)).mean(axis=1) > cut
    return np.r_[0, np.flatnonzero(changed | moved | differs) + 1]


def hold_out(
    starts: np.ndarray, n: int, names: list[str], eligible: np.ndarray, share: float, guard: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(held, guarded) masks: whole eligible segments held out per class, and the guard frames around them."""
    rng = np.random.default_rng(seed)
    ends = np.r_[starts[1:], n]
    held = np.zeros(n, bool)
    by_class: dict[str, list[int]] = {}
    for s, (a, b) in enumerate(zip(starts, ends)):
        if eligible[a:b].all():
            by_class.setdefault(names[a], []).append(s)
    for name in sorted(by_class):
        total = sum(1 for x, e in zip(names, eligible) if x == name and e)
        taken = 0
        target, segments = share * total, by_class[name]
        if len(segments) < 2:  # a class seen in one segment only stays in training
            continue
        for s in rng.permutation(segments):  # seeded order; a segment is taken while it fits
            size = ends[s] - starts[s]
            if taken + size > 1.25 * target:
                continue
            held[starts[s] : ends[s]] = True
            taken += size
            if taken >= target:
                break
        if not taken:  # every segment is larger than the share: the smallest, unless it is half the class
            s = min(segments, key=lambda s: ends[s] - starts[s])
            if ends[s] - starts[s] <= total / 2:
                held[starts[s] : ends[s]] = True
    guarded = np.zeros(n, bool)
    edges = np.flatnonzero(np.diff(np.r_[0, held.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        guarded[max(0, a - guard) : a] = True
        guarded[b : b + guard] = True
    return held, guarded & ~held


def nearest_distance(queries: np.ndarray, pool: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Mean absolute thumbnail difference (0..255) from each query to its nearest pool thumbnail (by L2)."""
    pool_sq = (pool**2).sum(axis=1)
    best = np.empty(len(queries), np.float32)
    for a in range(0, len(queries), batch):
        q = queries[a : a + batch]
        d2 = (q**2).sum(axis=1)[:, None] - 2 * q @ pool.T + pool_sq[None]
        nearest = pool[np.argmin(d2, axis=1)]
        best[a : a + batch] = np.abs(q - nearest).mean(axis=1)
    return best


def main(argv: list[str] | None = None) -> int:
    """Build and write the split."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="FOD-A root (Annotations/, JPEGImages/, ImageSets/)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--val-share", type=float, default=0.15)
    parser.add_argument("--tune-share", type=float, default=0.10)
    parser.add_argument("--val-stride", type=int, default=5)
    parser.add_argument("--guard", type=int, default=30)
    parser.add_argument("--jump", type=float, default=30.0)
    parser.add_argument("--cut", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ids, names, centres = read_frames(args.root)
    n = len(ids)
    thumbs = thumbnails(args.root, ids)
    starts = segment_starts(names, centres, thumbs, args.jump, args.cut)
    everything = np.ones(n, bool)
    val_held, val_guard = hold_out(starts, n, names, everything, args.val_share, args.guard, args.seed)
    train = ~(val_held | val_guard)
    tune_held, tune_guard = hold_out(starts, n, names, train, args.tune_share, args.guard, args.seed + 1)
    tune = tune_held & train
    tune_train = train & ~(tune_held | tune_guard)
    val_all = np.flatnonzero(val_held)
    val = val_all[:: args.val_stride]

    args.out.mkdir(parents=True, exist_ok=True)
    lists = {
        "train": np.flatnonzero(train),
        "val": val,
        "val_all": val_all,
        "tune": np.flatnonzero(tune)[:: args.val_stride],
        "tune_train": np.flatnonzero(tune_train),
    }
    for name, rows in lists.items():
        (args.out / f"{name}.txt").write_text("".join(f"{ids[i]}\n" for i in rows))

    upstream = set((args.root / "ImageSets" / "Main" / "test.txt").read_text().split())
    up_test = np.array([i in upstream for i in ids])
    sample = np.random.default_rng(0)
    ours = nearest_distance(thumbs[val], thumbs[train])
    theirs_q = sample.choice(np.flatnonzero(up_test), size=min(len(val), up_test.sum()), replace=False)
    theirs = nearest_distance(thumbs[theirs_q], thumbs[~up_test])
    classes = sorted(set(names))
    per_class = {
        c: {
            "train": int(sum(1 for i in lists["train"] if names[i] == c)),
            "val": int(sum(1 for i in val if names[i] == c)),
        }
        for c in classes
    }
    report = {
        "settings": vars(args) | {"root": str(args.root), "out": str(args.out)},
        "frames": n,
        "segments": len(starts),
        "sizes": {name: int(len(rows)) for name, rows in lists.items()},
        "guard_frames_dropped": int(val_guard.sum()),
        "frames_per_class_first_object": per_class,
        "leak_check": {
            "what": "mean absolute difference (0..255) of 32x32 grey thumbnails from each validation frame to its "
            "nearest training frame; near 0 means a near-copy is in training",
            "video_disjoint_val_to_train": {
                "median": float(np.median(ours)),
                "p10": float(np.percentile(ours, 10)),
                "share_below_3": float((ours < 3).mean()),
            },
            "upstream_test_to_trainval": {
                "median": float(np.median(theirs)),
                "p10": float(np.percentile(theirs, 10)),
                "share_below_3": float((theirs < 3).mean()),
            },
        },
        "segment_starts": [ids[s] for s in starts],
    }
    (args.out / "split.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("frames", "segments", "sizes", "leak_check")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
