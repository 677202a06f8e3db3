"""A folder of videos is a dataset of sampled frames: real H.264, VP9 and MPEG-4 files written by PyAV, frames
cached once, and every bad-input case one clear error naming the file."""

from __future__ import annotations

import csv
import json

import pytest

from edgeprune.cli import main
from edgeprune.datasets import detect_format, read_dataset
from edgeprune.datasets.video import read_videos
from edgeprune.errors import EdgepruneError
from tests.datasets.videos import write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three clips of 3 s at 10 fps: H.264 (mp4), VP9 (webm) and MPEG-4 (avi), each its own background."""
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "runway.mp4", tint=(40, 40, 40))
    write_video(root / "apron.webm", tint=(0, 90, 0))
    write_video(root / "taxiway.avi", tint=(0, 0, 120))
    return root


def test_frames_are_sampled_per_second_or_every_nth_and_traceable(videos, tmp_path):
    assert detect_format(videos) == "video"
    dataset = read_dataset(videos, cache_dir=tmp_path)
    assert len(dataset) == 9  # 3 s at the default 1 fps, three videos
    runway = [img for img in dataset.images if img.extra["video"] == "runway.mp4"]
    assert [img.file_name for img in runway] == ["runway_f000000.jpg", "runway_f000010.jpg", "runway_f000020.jpg"]
    assert [img.extra["time_s"] for img in runway] == [0.0, 1.0, 2.0]
    assert (runway[0].width, runway[0].height) == (96, 64) and runway[0].path.is_file()
    assert len(read_dataset(videos, fps=2.0, cache_dir=tmp_path)) == 18
    every = read_dataset(videos, every=7, cache_dir=tmp_path)
    assert sorted({img.extra["frame"] for img in every.images}) == [0, 7, 14, 21, 28]


def test_frames_are_decoded_once_and_the_cache_is_keyed_by_content(videos, tmp_path, monkeypatch):
    import edgeprune.datasets.video as video

    read_videos(videos, cache_root=tmp_path)
    cached = sorted((tmp_path / "frames").iterdir())
    assert len(cached) == 3 and all((d / "frames.json").is_file() for d in cached)
    monkeypatch.setattr(video, "decode_frames", lambda *a: pytest.fail("decoded again"))
    again = read_videos(videos, cache_root=tmp_path)
    assert len(again) == 9
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "renamed.mp4").write_bytes((videos / "runway.mp4").read_bytes())
    renamed = read_videos(copy, cache_root=tmp_path)  # same content: the same cached frames, its own names
    assert [img.file_name for img in renamed.images][0] == "renamed_f000000.jpg"


def test_two_videos_with_one_stem_keep_their_frames_apart(tmp_path):
    write_video(tmp_path / "v" / "clip.mp4", frames=10)
    write_video(tmp_path / "v" / "clip.mkv", frames=10, tint=(90, 0, 0))
    names = [img.file_name for img in read_videos(tmp_path / "v", every=5, cache_root=tmp_path / "c").images]
    assert names == ["clip_mkv_f000000.jpg", "clip_mkv_f000005.jpg", "clip_mp4_f000000.jpg", "clip_mp4_f000005.jpg"]


def _truncated(folder):
    data = write_video(folder / "cut.mp4", frames=60).read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])


def _no_video_stream(folder):
    import av
    import numpy as np

    with av.open(str(folder / "sound.mp4"), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


def _unsupported_codec(folder):
    data = write_video(folder / "odd.avi", frames=5).read_bytes()
    (folder / "odd.avi").write_bytes(data.replace(b"FMP4", b"ZZZZ"))  # a FourCC no FFmpeg decoder claims


def _zero_length(folder):
    (folder / "empty.mp4").write_bytes(b"")


def _garbage(folder):
    (folder / "notes.mov").write_bytes(b"not a video" * 50)


def _mixed(folder):
    write_video(folder / "ok.mp4", frames=5)
    (folder / "still.jpg").write_bytes(b"\xff\xd8")


@pytest.mark.parametrize(
    "make, message",
    [
        (_truncated, r"cut\.mp4: not a readable video \(InvalidDataError"),
        (_no_video_stream, r"sound\.mp4: holds no video stream"),
        (_unsupported_codec, r"odd\.avi: its video codec has no decoder in this FFmpeg build"),
        (_zero_length, r"empty\.mp4: is empty \(0 bytes\)"),
        (_garbage, r"notes\.mov: not a readable video"),
        (_mixed, r"mixes videos and 1 images \(first: still\.jpg\)"),
    ],
)
def test_bad_videos_are_one_clear_error_naming_the_file(tmp_path, make, message):
    folder = tmp_path / "in"
    folder.mkdir()
    make(folder)
    with pytest.raises(EdgepruneError, match=message):
        read_videos(folder, cache_root=tmp_path / "cache")
    assert not any(p.name.startswith(".partial") for p in (tmp_path / "cache").rglob("*"))


def test_sampling_options_are_checked(videos, tmp_path, digits_coco):
    with pytest.raises(EdgepruneError, match="fps=1.0 and every=2 both say which frames to keep"):
        read_videos(videos, fps=1.0, every=2, cache_root=tmp_path)
    with pytest.raises(EdgepruneError, match="fps=0.0 must be a positive number"):
        read_videos(videos, fps=0.0, cache_root=tmp_path)
    with pytest.raises(EdgepruneError, match="fps=2.0 samples frames of videos; .* is a coco dataset"):
        read_dataset(digits_coco, fps=2.0)


def _select(tmp_path, pool, backbone, *extra):
    argv = ["-q", "select", str(pool), "--out", str(tmp_path / "sel"), "--backbone", str(backbone)]
    argv += ["--image-size", "64", "--cache-dir", str(tmp_path / "cache"), *extra]
    return main(argv), tmp_path / "sel"


def test_select_spreads_picks_over_videos_and_never_picks_a_near_copy_within_one(tmp_path, pixel_backbone):
    pool = tmp_path / "pool"
    for name, tint in (("gate", (0, 0, 0)), ("ramp", (0, 120, 0)), ("stand", (120, 0, 0))):
        write_video(pool / f"{name}.mp4", frames=40, tint=tint)
    write_video(pool / "parked.mp4", frames=40, tint=(0, 0, 160), moving=False)  # every frame the same
    code, out = _select(tmp_path, pool, pixel_backbone, "--budget", "8", "--every", "4", "--threshold", "0.99")
    assert code == 0
    with (out / "selection.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {"video", "frame", "time_s"} <= set(rows[0])
    picked = sorted((r for r in rows if int(r["pick_order"]) >= 0), key=lambda r: int(r["pick_order"]))
    first_round = {r["video"] for r in picked[:4]}
    assert first_round == {"gate.mp4", "ramp.mp4", "stand.mp4", "parked.mp4"}  # every video before a second pick
    assert sum(r["video"] == "parked.mp4" for r in picked) == 1  # its frames are near-copies of each other
    for row in picked:
        assert row["image"].startswith(row["video"].removesuffix(".mp4") + "_f")
        assert (out / "to_label" / row["image"]).is_file()


def test_curate_writes_a_pruned_folder_of_frames_with_their_videos(tmp_path, videos, tiny_backbone):
    out = tmp_path / "cur"
    argv = ["-q", "curate", str(videos), "--out", str(out), "--keep", "0.34", "--policy", "typical", "-k", "3"]
    assert main([*argv, "--backbone", str(tiny_backbone), "--cache-dir", str(tmp_path / "cache")]) == 0
    kept = sorted(p.name for p in (out / "pruned").iterdir())
    assert len(kept) == 3 and {name.split("_f")[0] for name in kept} == {"runway", "apron", "taxiway"}
    with (out / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9 and {r["video"] for r in rows} == {"runway.mp4", "apron.webm", "taxiway.avi"}
    assert json.loads((out / "summary.json").read_text())["images_after"] == 3


def test_split_keeps_each_video_whole_and_leaks_finds_a_copied_video(tmp_path, videos, pixel_backbone, capsys):
    common = ["--backbone", str(pixel_backbone), "--image-size", "64", "--cache-dir", str(tmp_path / "cache")]
    assert main(["-q", "split", str(videos), "--out", str(tmp_path / "s"), "--ratios", "0.67,0.33", *common]) == 0
    where = {}
    for split in (tmp_path / "s").iterdir():
        for frame in split.glob("*.jpg") if split.is_dir() else []:
            where.setdefault(frame.name.split("_f")[0], set()).add(split.name)
    assert len(where) == 3 and all(len(splits) == 1 for splits in where.values())
    later = tmp_path / "later"
    later.mkdir()
    (later / "runway_again.mp4").write_bytes((videos / "runway.mp4").read_bytes())
    write_video(later / "new.mp4", tint=(200, 200, 0))
    capsys.readouterr()
    assert main(["leaks", str(later), "--against", str(videos), "--out", str(tmp_path / "lk"), *common]) == 0
    summary = capsys.readouterr().out
    assert "3 of 6 `later` images have a near-copy in `videos0` (3 exact copies)" in summary
    assert "frames of 1 of its 2 videos" in summary


def test_a_bad_video_on_the_command_line_is_one_line_and_exit_2(tmp_path, pixel_backbone, capsys):
    pool = tmp_path / "pool"
    pool.mkdir()
    _garbage(pool)
    code, out = _select(tmp_path, pool, pixel_backbone, "--budget", "1")
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and "notes.mov: not a readable video" in err and "Traceback" not in err
