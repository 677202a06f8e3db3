"""Rebuild the coverage study's pool videos as real mp4 files: every frame of each pool segment, in frame order (the
frame numbers give it), encoded with PyAV as H.264.

    python make_clips.py ../../data/fod_a ../coverage/split/clips.csv ../../data/video_select/clips

writes one ``<clip>.mp4`` per segment and ``frames.csv`` (``video,frame,image``): which FOD-A frame each decoded
frame of each video is, so the frames ``select`` picks from the videos map back to their labels.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image


def encode(frames: list[Path], target: Path, fps: int, crf: int) -> None:
    """``frames`` (same-size JPEGs) as one H.264 mp4 at ``fps``; ``crf`` sets the quality (18: visually lossless)."""
    import av

    first = Image.open(frames[0])
    width, height = first.size
    with av.open(str(target), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for path in frames:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("voc", type=Path, help="FOD-A's VOC root")
    parser.add_argument("clips", type=Path, help="image,group CSV of the pool (the coverage study's split/clips.csv)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--crf", type=int, default=18)
    args = parser.parse_args()
    members = defaultdict(list)
    with args.clips.open() as fh:
        for row in csv.DictReader(fh):
            members[row["group"]].append(row["image"])
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for clip, images in sorted(members.items()):
        images.sort()  # FOD-A numbers frames in recording order
        target = args.out / f"{clip}.mp4"
        if not target.exists():
            partial = target.with_suffix(".partial.mp4")
            encode([args.voc / "JPEGImages" / name for name in images], partial, args.fps, args.crf)
            partial.rename(target)
        rows += [(target.name, index, name) for index, name in enumerate(images)]
    with (args.out.parent / "frames.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video", "frame", "image"])
        writer.writerows(rows)
    print(f"{len(members)} videos, {len(rows)} frames in {args.out}")


if __name__ == "__main__":
    main()
