"""Real encoded videos for the tests, written with PyAV: a moving square over a background colour, so frames of
one video differ from each other and videos differ from each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4", ".mkv": "libx264", ".mov": "libx264"}


def frame_pixels(index: int, *, size=(96, 64), tint=(0, 0, 0), moving: bool = True) -> np.ndarray:
    """Frame ``index``: a background ``tint`` and a white square that moves one step per frame (or stays)."""
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:] = tint
    x = (index * 3) % (width - 24) if moving else 8
    y = (index * 2) % (height - 24) if moving else 8
    pixels[y : y + 24, x : x + 24] = 255
    return pixels


def write_video(path: Path, *, frames: int = 30, fps: int = 10, tint=(0, 0, 0), moving: bool = True, size=(96, 64)):
    """Encode ``frames`` frames at ``fps`` into ``path`` with the codec its suffix calls for (H.264, VP9, MPEG-4)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(CODECS[path.suffix], rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_pixels(index, size=size, tint=tint, moving=moving), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
