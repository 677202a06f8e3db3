"""A folder of videos as a dataset of frames (``pip install 'edgeprune[video]'``: PyAV, FFmpeg's Python binding).

Frames are sampled at ``fps`` frames per second of video time (default :data:`DEFAULT_FPS`) or every ``every``-th
decoded frame, and written once as JPEG into a frame cache keyed by the video's content and the sampling; a rerun
reads the cache. Decoding streams, one frame at a time, so memory does not grow with the video's length. Each frame
is an image named ``<video stem>_f<frame number>.jpg`` whose ``extra`` holds ``video`` (the file, relative to the
folder), ``frame`` (its index in decode order) and ``time_s``; the video is the frame's group for ``select``,
``curate``, ``split`` and ``leaks``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import disk_full
from ..errors import EdgepruneError
from .files import IMAGE_SUFFIXES, top_two_levels
from .types import Dataset, ImageRecord

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
DEFAULT_FPS = 1.0  # one frame a second: consecutive frames a labeller would see as the same
JPEG_QUALITY = 95
SAMPLER_VERSION = 1  # part of the cache key: bump when the sampling rule or the frame encoding changes


@dataclass(frozen=True)
class Sampling:
    """Which frames of a video are kept: ``fps`` frames per second of video time, or every ``every``-th frame."""

    fps: float | None = None
    every: int | None = None

    def __post_init__(self) -> None:
        if self.fps is not None and self.every is not None:
            raise EdgepruneError(f"fps={self.fps} and every={self.every} both say which frames to keep; give one")
        if self.fps is not None and not self.fps > 0:
            raise EdgepruneError(f"fps={self.fps} must be a positive number of frames per second")
        if self.every is not None and self.every < 1:
            raise EdgepruneError(f"every={self.every} must be at least 1")

    @property
    def key(self) -> str:
        """How the sampling is spelled in the cache key and the log."""
        return f"every{self.every}" if self.every is not None else f"fps{self.fps or DEFAULT_FPS:g}"


FRAME_COLUMNS = ["video", "frame", "time_s"]  # the columns a frame adds to selection.csv and scores.csv


def frame_columns(dataset: Dataset) -> list[str]:
    """:data:`FRAME_COLUMNS` for a dataset read from videos, else none."""
    return FRAME_COLUMNS if dataset.extra.get("videos") else []


def frame_values(dataset: Dataset, img: ImageRecord) -> list:
    """The frame's video, number and time, in the order of :func:`frame_columns`."""
    return [img.extra[key] for key in FRAME_COLUMNS] if dataset.extra.get("videos") else []


def list_videos(root: Path) -> list[Path]:
    """Video files under ``root`` (its top level and one level of subfolders), sorted."""
    return top_two_levels(root, VIDEO_SUFFIXES)


def is_video_folder(path: Path) -> bool:
    """True if ``path`` is a directory holding video files (an image among them is an error: see
    :func:`read_videos`)."""
    return path.is_dir() and bool(list_videos(path))


def read_videos(path: Path, *, fps: float | None = None, every: int | None = None, cache_root: Path) -> Dataset:
    """Every video under ``path`` as its sampled frames (see the module docstring). A folder that mixes videos and
    images, or a video that cannot be decoded, is an :class:`EdgepruneError` naming the file."""
    sampling = Sampling(fps, every)
    _refuse_mixed(path)
    videos = list_videos(path)
    prefixes = frame_prefixes(path, videos)
    images = []
    for video in videos:
        frames = cached_frames(video, sampling, cache_root)
        relative = video.relative_to(path).as_posix()
        for entry in frames["frames"]:
            name = f"{prefixes[video]}_f{entry['frame']:06d}.jpg"
            extra = {"video": relative, "frame": entry["frame"], "time_s": entry["time_s"]}
            file = Path(frames["dir"]) / entry["file"]
            images.append(ImageRecord(name, name, frames["width"], frames["height"], path=file, extra=extra))
    log.info("%s: %d frames from %d videos (%s)", path, len(images), len(videos), sampling.key)
    return Dataset(images, [], "folder", source=path, extra={"videos": True})


def frame_prefixes(root: Path, videos: list[Path]) -> dict[Path, str]:
    """How each video's frames are named: its stem (in its subfolder), with the extension where two videos of one
    folder share a stem (``clip.mp4`` and ``clip.mov``: ``clip_mp4``, ``clip_mov``)."""
    stems: dict[str, int] = {}
    for video in videos:
        key = (video.parent / video.stem).relative_to(root).as_posix()
        stems[key] = stems.get(key, 0) + 1
    prefixes = {}
    for video in videos:
        key = (video.parent / video.stem).relative_to(root).as_posix()
        prefixes[video] = key if stems[key] == 1 else f"{key}_{video.suffix[1:].lower()}"
    return prefixes


def _refuse_mixed(path: Path) -> None:
    images = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if images:
        raise EdgepruneError(
            f"{path}: mixes videos and {len(images)} images (first: {images[0].relative_to(path)}); keep the videos "
            "in a folder of their own"
        )


def cached_frames(video: Path, sampling: Sampling, cache_root: Path) -> dict:
    """The sampled frames of ``video`` in the frame cache (decoded and written on a miss, atomically): a dict with
    ``dir``, ``width``, ``height`` and ``frames`` (``file``, ``frame``, ``time_s`` each)."""
    target = cache_root / "frames" / f"{_video_key(video)}-{sampling.key}-v{SAMPLER_VERSION}"
    index = target / "frames.json"
    if index.is_file():
        return {**json.loads(index.read_text()), "dir": str(target)}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        started = time.perf_counter()
        document = decode_frames(video, sampling, tmp)
        log.info(
            "%s: %d frames kept (%s), decoded in %.1f s", video, len(document["frames"]), sampling.key,
            time.perf_counter() - started,
        )  # fmt: skip
        (tmp / "frames.json").write_text(json.dumps(document))
        try:
            os.replace(tmp, target)
        except OSError:  # another run wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        full = disk_full(target.parent, exc)
        if full is not None:
            raise full from None
        raise
    return {**document, "dir": str(target)}


def _video_key(video: Path) -> str:
    """The cache key of a video's content: its size and BLAKE2b of its first and last MiB (videos are large; a
    re-encode changes both ends)."""
    digest = hashlib.blake2b(digest_size=16)
    size = video.stat().st_size
    digest.update(str(size).encode())
    with video.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()


def decode_frames(video: Path, sampling: Sampling, out_dir: Path) -> dict:
    """Decode ``video`` one frame at a time and write the sampled frames as JPEG into ``out_dir`` (named by frame
    number only: the cache is keyed by content, and a copy of the video under another name shares it)."""
    av = _import_av()
    if video.stat().st_size == 0:
        raise EdgepruneError(f"{video}: is empty (0 bytes)")
    frames: list[dict] = []
    size = (0, 0)
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise EdgepruneError(f"{video}: holds no video stream")
            stream = container.streams.video[0]
            if stream.codec_context is None:
                raise EdgepruneError(
                    f"{video}: its video codec has no decoder in this FFmpeg build (unsupported codec)"
                )
            stream.thread_type = "AUTO"
            keep = _sampler(sampling)
            for index, frame in enumerate(container.decode(stream)):
                time_s = float(frame.time) if frame.time is not None else index / _rate(stream)
                if not keep(index, time_s):
                    continue
                image = frame.to_image()
                size = image.size
                name = f"f{index:06d}.jpg"
                image.save(out_dir / name, quality=JPEG_QUALITY)
                frames.append({"file": name, "frame": index, "time_s": round(time_s, 3)})
    except EdgepruneError:
        raise
    except av.FFmpegError as exc:
        raise EdgepruneError(f"{video}: not a readable video ({type(exc).__name__}: {_reason(exc)})")
    if not frames:
        raise EdgepruneError(f"{video}: holds no decodable frames")
    return {"video": str(video), "width": size[0], "height": size[1], "frames": frames}


def _sampler(sampling: Sampling):
    """A ``keep(index, time_s)`` predicate: every ``every``-th frame, or the first frame at or after each multiple
    of 1/fps seconds."""
    if sampling.every is not None:
        return lambda index, _time: index % sampling.every == 0
    period = 1.0 / (sampling.fps or DEFAULT_FPS)
    next_time = [None]

    def keep(_index: int, time_s: float) -> bool:
        if next_time[0] is None:
            next_time[0] = time_s
        if time_s + 1e-6 < next_time[0]:
            return False
        while next_time[0] <= time_s + 1e-6:
            next_time[0] += period
        return True

    return keep


def _rate(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 25.0


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _import_av():
    try:
        import av
    except ImportError:
        raise EdgepruneError("reading videos needs PyAV: pip install 'edgeprune[video]'")
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own stderr lines; errors come back as exceptions
    return av
