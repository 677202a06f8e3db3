"""The clip of every FOD-A frame of one split list, as a ``--groups`` CSV (``image,group``) for ``edgeprune split``.

Clips are the segments ``experiments/fod-a/fod_split.py`` rebuilt from the frame order (``segment_starts`` in
``experiments/fod-a/results/split/split.json``):

    python experiments/fod-a/fod_clips.py data/fod_a/ImageSets/Main/trainval.txt > data/fod_trainval_clips.csv
"""

from __future__ import annotations

import bisect
import json
import sys
from pathlib import Path

SEGMENTS = Path(__file__).resolve().parent / "results" / "scaling_fod" / "split" / "split.json"


def main() -> None:
    starts = json.loads(SEGMENTS.read_text())["segment_starts"]
    frames = [line.strip() for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]
    sys.stdout.write("image,group\n")
    for frame in frames:
        sys.stdout.write(f"{frame}.jpg,clip{bisect.bisect_right(starts, frame) - 1:03d}\n")


if __name__ == "__main__":
    main()
