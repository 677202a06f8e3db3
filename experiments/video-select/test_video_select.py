"""The study's two scripts: clips rebuilt from frames decode back to those frames in order, and picks map back to
the frames they came from, the first N picks being the selection at budget N."""

import csv

import numpy as np
from make_clips import encode
from picks_to_split import covered, picked_images
from PIL import Image

from edgeprune.datasets.video import read_videos


def test_rebuilt_clip_decodes_to_its_frames_in_order(tmp_path):
    frames = []
    for index in range(4):
        pixels = np.full((64, 64, 3), 40 * index, np.uint8)
        frames.append(tmp_path / f"{index:06d}.jpg")
        Image.fromarray(pixels).save(frames[-1])
    (tmp_path / "clips").mkdir()
    encode(frames, tmp_path / "clips" / "clip000.mp4", fps=10, crf=0)
    dataset = read_videos(tmp_path / "clips", every=1, cache_root=tmp_path / "cache")
    assert [img.extra["frame"] for img in dataset.images] == [0, 1, 2, 3]
    means = [np.asarray(Image.open(img.path)).mean() for img in dataset.images]
    assert np.allclose(means, [0, 40, 80, 120], atol=3)


def test_picks_map_back_to_their_frames_in_pick_order(tmp_path):
    with (tmp_path / "frames.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video", "frame", "image"])
        writer.writerows([("a.mp4", 0, "000010.jpg"), ("a.mp4", 1, "000011.jpg"), ("b.mp4", 0, "000500.jpg")])
    (tmp_path / "select-157").mkdir()
    with (tmp_path / "select-157" / "selection.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "pick_order", "diversity", "near_copy_of_labeled", "video", "frame", "time_s"])
        writer.writerows([("a_f000000.jpg", 1, 1, 0, "a.mp4", 0, 0.0), ("a_f000001.jpg", -1, 1, 0, "a.mp4", 1, 0.1)])
        writer.writerow(("b_f000000.jpg", 0, 1, 0, "b.mp4", 0, 0.0))
    assert picked_images(tmp_path, 2) == ["000500.jpg", "000010.jpg"]
    assert picked_images(tmp_path, 1) == ["000500.jpg"]
    clips = {"000010.jpg": "clip0", "000011.jpg": "clip0", "000500.jpg": "clip9"}
    assert covered(["000010.jpg", "000011.jpg"], clips) == {"images": 2, "videos": 1}
