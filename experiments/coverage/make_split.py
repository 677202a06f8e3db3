"""The coverage study's three disjoint sets of FOD-A videos: the pool, the tune set and the test set.

FOD-A's frames come from videos; ``experiments/fod-a/fod_split.py`` rebuilt them as 150 segments (``segment_starts`` in
``experiments/fod-a/results/split/split.json``) and held out ``val`` and ``tune``. Every earlier study chose its
settings on ``val`` and scored on it, so it cannot be this study's test set. This script draws a fresh one:

- **pool**: the frames of ``tune_train.txt`` (the earlier studies' training frames), less the test segments and
  ``--guard`` frames on both sides of each (so a cut the segmenter missed cannot leak a frame into the test set);
- **tune**: FOD-A's ``tune.txt`` (595 frames of held-out segments), for every choice of the study;
- **test**: every ``--stride``-th frame of whole segments of ``tune_train`` drawn in a seeded order until
  ``--test-share`` of its frames, scored once, at the end.

    python experiments/coverage/make_split.py data/fod_a --out experiments/coverage/split

writes ``pool.txt``, ``test.txt``, ``clips.csv`` (``image,group``: the segment of every pool frame, for ``stride``
and ``--groups``) and ``split.json`` (settings, sizes, the test segments).
"""

from __future__ import annotations

import argparse
import bisect
import json
from pathlib import Path

import numpy as np

SEGMENTS = Path(__file__).resolve().parents[1] / "fod-a" / "results" / "split" / "split.json"


def segment_of(frames: list[str], starts: list[str]) -> list[int]:
    """The segment index of every frame id (ids sort in recording order)."""
    return [bisect.bisect_right(starts, frame) - 1 for frame in frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="FOD-A (VOC layout, with experiments/fod-a/get_fod_a.sh's split files)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--test-share", type=float, default=0.12)
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--guard", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main_dir = args.root / "ImageSets" / "Main"
    frames = [line.strip() for line in (main_dir / "tune_train.txt").read_text().splitlines() if line.strip()]
    tune = {line.strip() for line in (main_dir / "tune.txt").read_text().splitlines() if line.strip()}
    starts = json.loads(SEGMENTS.read_text())["segment_starts"]
    segment = np.array(segment_of(frames, starts))
    sizes = {int(s): int((segment == s).sum()) for s in np.unique(segment)}
    rng = np.random.default_rng(args.seed)
    held: list[int] = []
    for s in rng.permutation(sorted(sizes)):
        if sum(sizes[h] for h in held) >= args.test_share * len(frames):
            break
        if sizes[int(s)] <= 0.05 * len(frames):  # no single segment takes most of the test set
            held.append(int(s))
    position = {frame: i for i, frame in enumerate(frames)}
    in_test = np.isin(segment, held)
    guard = np.zeros(len(frames), bool)
    for i in np.flatnonzero(in_test[1:] != in_test[:-1]):  # the frame before a boundary of a held-out run
        guard[max(0, i + 1 - args.guard) : i + 1 + args.guard] = True
    test = [f for f, t in zip(frames, in_test) if t][:: args.stride]
    pool = [f for f, t, g in zip(frames, in_test, guard) if not t and not g]
    assert not (set(pool) & set(test)) and not (tune & (set(pool) | set(test)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pool.txt").write_text("".join(f"{f}\n" for f in pool))
    (args.out / "test.txt").write_text("".join(f"{f}\n" for f in test))
    clips = "".join(f"{f}.jpg,clip{segment[position[f]]:03d}\n" for f in pool)
    (args.out / "clips.csv").write_text("image,group\n" + clips)
    dropped = int((guard & ~in_test).sum())
    summary = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "sizes": {
            "pool": len(pool),
            "tune": len(tune),
            "test": len(test),
            "guard_dropped": dropped,
        },
        "pool_videos": int(len(set(segment[[position[f] for f in pool]]))),
        "test_segments": sorted(held),
    }
    (args.out / "split.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["sizes"]), "pool videos:", summary["pool_videos"], "test segments:", len(held))


if __name__ == "__main__":
    main()
