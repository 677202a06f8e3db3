"""Frames from H.264 video to embeddings: edgeprune reading the videos (PyAV, frames cached as JPEG) against what a
user does today, `ffmpeg -vf fps=F` to a folder of JPEGs and then edgeprune on the folder, in the same run.

Both paths end in the same embedding call (MobileNetV2 width 1.0 at 224 px, random weights: the speed of the
trained one) on the same number of frames. The videos are generated here with PyAV: 640x360 H.264 at 25 fps,
moving shapes over noise (so the encoder cannot compress them to nothing). The two paths alternate, `--repeats`
times each, from a cold frame cache; best and median are printed, with the ratio edgeprune / ffmpeg CLI.

    python tools/bench_video.py [--videos 3] [--seconds 30] [--sample-fps 2] [--repeats 2]

Needs `pip install 'edgeprune[video]' imageio-ffmpeg` (the static ffmpeg binary stands in for the system one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

tf.get_logger().setLevel("ERROR")

from edgeprune.datasets import read_dataset  # noqa: E402
from edgeprune.embed import embed_images, load_backbone  # noqa: E402
from edgeprune.embed.selfsup import HubEmbedder, build_encoder  # noqa: E402

SIZE = 224


def make_videos(root: Path, count: int, seconds: int, fps: int = 25, size=(640, 360)) -> list[Path]:
    """``count`` H.264 videos of ``seconds`` at ``fps``: a moving rectangle and a moving disc over seeded noise."""
    import av

    width, height = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    paths = []
    for v in range(count):
        path = root / f"camera{v}.mp4"
        noise = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i in range(seconds * fps):
                pixels = noise.copy()
                pixels[..., v % 3] += 80
                x = (i * 4 + 50 * v) % (width - 80)
                pixels[100:180, x : x + 80] = (230, 200, 40)
                disc = (xx - (width - x)) ** 2 + (yy - (60 + i % 200)) ** 2 < 30**2
                pixels[disc] = (40, 90, 230)
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, "rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        paths.append(path)
    return paths


def backbone_for_bench():
    tf_keras.utils.set_random_seed(0)
    module = HubEmbedder(build_encoder(1.0))
    module(tf.zeros([1, SIZE, SIZE, 3]))
    saved = Path(tempfile.mkdtemp()) / "mobilenetv2"
    tf.saved_model.save(module, str(saved))
    return load_backbone(saved, image_size=SIZE)


def embed_folder(dataset, backbone) -> float:
    started = time.perf_counter()
    embed_images([img.path for img in dataset.images], backbone, batch_size=64, progress=False)
    return time.perf_counter() - started


def edgeprune_videos(folder: Path, sample_fps: float, work: Path, backbone) -> dict:
    """edgeprune reads the videos itself: PyAV decode, frames cached as JPEG, then the embedding."""
    started = time.perf_counter()
    dataset = read_dataset(folder, fps=sample_fps, cache_dir=work)
    frames_s = time.perf_counter() - started
    return {"frames": len(dataset), "frames_s": frames_s, "embed_s": embed_folder(dataset, backbone)}


def ffmpeg_then_folder(folder: Path, sample_fps: float, work: Path, backbone, ffmpeg: str) -> dict:
    """The user's way today: the ffmpeg CLI extracts JPEGs, then edgeprune reads the image folder."""
    started = time.perf_counter()
    for video in sorted(folder.glob("*.mp4")):
        pattern = str(work / f"{video.stem}_%06d.jpg")
        command = [ffmpeg, "-loglevel", "error", "-i", str(video), "-vf", f"fps={sample_fps}", "-q:v", "2", pattern]
        subprocess.run(command, check=True)
    dataset = read_dataset(work)
    frames_s = time.perf_counter() - started
    return {"frames": len(dataset), "frames_s": frames_s, "embed_s": embed_folder(dataset, backbone)}


def summary(runs: list[dict]) -> dict:
    totals = [r["frames_s"] + r["embed_s"] for r in runs]
    return {
        "frames": runs[0]["frames"],
        "frames_s_best": round(min(r["frames_s"] for r in runs), 2),
        "embed_s_best": round(min(r["embed_s"] for r in runs), 2),
        "total_s_best": round(min(totals), 2),
        "total_s_median": round(statistics.median(totals), 2),
        "frames_per_s_best": round(runs[0]["frames"] / min(totals), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--sample-fps", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "tools" / "results" / "bench_video" / "bench_video.json")
    args = parser.parse_args()
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    root = Path(tempfile.mkdtemp(prefix="bench_video_"))
    try:
        videos = root / "videos"
        videos.mkdir()
        make_videos(videos, args.videos, args.seconds)
        backbone = backbone_for_bench()
        backbone(tf.zeros([64, SIZE, SIZE, 3]))  # warm-up: the first call traces the graph
        ours, theirs = [], []
        for repeat in range(args.repeats):
            for name, runs, run in (("edgeprune", ours, edgeprune_videos), ("ffmpeg", theirs, ffmpeg_then_folder)):
                work = root / f"{name}{repeat}"
                work.mkdir()
                extra = (ffmpeg,) if run is ffmpeg_then_folder else ()
                runs.append(run(videos, args.sample_fps, work, backbone, *extra))
                print(f"{name} run {repeat}: {json.dumps({k: round(v, 2) for k, v in runs[-1].items()})}")
                shutil.rmtree(work)
        result = {
            "videos": args.videos,
            "seconds_each": args.seconds,
            "source": "640x360 H.264, 25 fps",
            "sample_fps": args.sample_fps,
            "backbone": f"MobileNetV2 1.0 at {SIZE} px",
            "cpus": os.cpu_count(),
            "edgeprune_videos": summary(ours),
            "ffmpeg_cli_then_folder": summary(theirs),
        }
        result["ratio_total_best"] = round(
            result["ffmpeg_cli_then_folder"]["total_s_best"] / result["edgeprune_videos"]["total_s_best"], 2
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        print(f"edgeprune from videos is {result['ratio_total_best']}x the speed of ffmpeg CLI + folder")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
