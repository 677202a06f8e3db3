"""A folder of videos from a folder of images (frames in file-name order, dealt into ``--videos`` H.264 mp4s), for
the Label Studio check of ``select`` on videos: the digit scenes become clips a digit detector can see.

    python tools/digit_videos.py IMAGES_DIR OUT_DIR [--videos 2] [--fps 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--fps", type=int, default=5)
    args = parser.parse_args()
    import av

    frames = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    args.out.mkdir(parents=True, exist_ok=True)
    for v in range(args.videos):
        part = frames[v :: args.videos]
        width, height = Image.open(part[0]).size
        with av.open(str(args.out / f"camera{v}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=args.fps, options={"crf": "12"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for path in part:
                pixels = np.asarray(Image.open(path).convert("RGB"))
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, "rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    print(f"{len(frames)} frames in {args.videos} videos under {args.out}")


if __name__ == "__main__":
    main()
