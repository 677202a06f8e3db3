"""Curate's side outputs: ``scores.csv`` and the reference tool's ``prune_{i}_easy|hard`` / ``cluster_{i}`` folders."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np

from ..datasets import Dataset, ImageRecord
from ..datasets.files import copy_image
from ..datasets.video import frame_columns, frame_values
from .select import keep_count

EXPORT_CHOICES = ("prune", "clusters", "all")


def write_scores(
    path: Path,
    dataset: Dataset,
    labels: np.ndarray,
    distances: np.ndarray,
    ranks: np.ndarray,
    kept: np.ndarray,
    duplicate_of: np.ndarray | None = None,
) -> None:
    """One row per image: image, id, cluster, distance, rank in cluster (0 = nearest; -1 for a near-duplicate),
    kept (1/0), the image it duplicates (empty if none), and a frame's video, frame number and time."""
    duplicate_of = np.full(len(dataset), -1) if duplicate_of is None else duplicate_of
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        header = ["image", "image_id", "cluster", "distance", "rank_in_cluster", "kept", "duplicate_of"]
        writer.writerow(header + frame_columns(dataset))
        for index, img in enumerate(dataset.images):
            original = dataset.images[duplicate_of[index]].file_name if duplicate_of[index] >= 0 else ""
            row = [img.file_name, img.id, int(labels[index]), f"{float(distances[index]):.6f}", int(ranks[index])]
            writer.writerow([*row, int(kept[index]), original, *frame_values(dataset, img)])


def write_object_scores(path: Path, dataset: Dataset, crops, objects, kept: np.ndarray) -> None:
    """Object level: one row per crop: image, box position in the image, category, cluster name, distance, crop
    region (x1, y1, x2, y2 pixels) and whether its image was kept."""
    names = dataset.category_names
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "box", "category", "cluster", "distance", "x1", "y1", "x2", "y2", "kept"])
        for row in range(len(crops)):
            image = int(crops.image_index[row])
            category = int(crops.category_id[row])
            writer.writerow(
                [
                    dataset.images[image].file_name,
                    int(crops.box_index[row]),
                    names.get(category, category),
                    objects.names[int(objects.labels[row])],
                    f"{float(objects.distances[row]):.6f}",
                    *(f"{v:.1f}" for v in crops.regions[row]),
                    int(kept[image]),
                ]
            )


def _unique_name(img_index: int, file_name: str, used: set[str]) -> str:
    name = Path(file_name).name
    if name in used:
        name = f"{img_index}_{name}"
    used.add(name)
    return name


def export_folders(
    out_dir: Path,
    dataset: Dataset,
    labels: np.ndarray,
    ranks: np.ndarray,
    *,
    keep: float,
    which: str,
    place_image: Callable[[ImageRecord, Path], None] = copy_image,
) -> None:
    """The reference's folders: ``prune_{i}_easy`` (first ``n - ceil(keep n)`` by distance), ``prune_{i}_hard``
    (the rest) and ``cluster_{i}`` (all members); ``place_image`` puts each image there (a copy by default)."""
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        n_easy = len(members) - keep_count(len(members), keep)
        used: set[str] = set()
        for index in members:
            img = dataset.images[index]
            name = _unique_name(int(index), img.file_name, used)
            if which in ("prune", "all"):
                part = "easy" if ranks[index] < n_easy else "hard"
                place_image(img, out_dir / f"prune_{cluster}_{part}" / name)
            if which in ("clusters", "all"):
                place_image(img, out_dir / f"cluster_{cluster}" / name)
