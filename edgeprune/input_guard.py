"""Never write over what is read: an output directory must be apart from every path a command reads.

``--overwrite`` replaces an earlier *output*. Without this check, ``curate data --out data --overwrite`` would
replace the dataset by its pruned copy. Every command that writes a directory calls :func:`check_apart` before any
work, once on the paths its arguments name and again on every file the dataset was read from (annotation files,
image files and their folders, TFRecord shards, YOLO label and list files). Symlinks are resolved on both sides, so a
dataset whose images are links into ``--out`` is refused too, and ``--image-mode symlink`` can never leave links to
files that the same run deletes.

An output conflicts with an input when it *is* the input, *lies inside* an input folder, or *contains* an input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from .errors import EdgepruneError

Inputs = Sequence[tuple[str, "Path | str | None"]]


def _real(path: Path | str) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def check_apart(out: Path | str, inputs: Iterable[tuple[str, Path | str | None]], *, flag: str = "--out") -> None:
    """Raise a one-line :class:`EdgepruneError` naming both paths when ``out`` is, lies inside, or contains one of
    ``inputs`` (``(what it is, path)`` pairs; a None path is skipped). Symlinks are resolved before comparing."""
    target = _real(out)
    for role, path in inputs:
        if path is None or any(ch in str(path) for ch in "*?["):  # a TFRecord glob: its files are checked later
            continue
        real = _real(path)
        if real == target:
            relation = "is"
        elif _inside(real, target):
            relation = "contains"
        elif _inside(target, real) and os.path.isdir(real):
            relation = "lies inside"
        else:
            continue
        shown = f"{path}" if real == str(path) else f"{path} ({real})"
        raise EdgepruneError(
            f"{flag} {out} {relation} {role} {shown}; edgeprune never writes over what it reads: choose an output "
            "outside the input"
        )


def dataset_inputs(dataset, role: str = "the dataset") -> list[tuple[str, Path]]:
    """Every path ``dataset`` was read from, as ``(what it is, path)`` pairs: its source, its image root, the
    folders of its images, its annotation, label and list files and its TFRecord shards. Image files themselves
    are listed only where they are symlinks (a folder check covers the rest); 100k images cost a stat each."""
    found: dict[str, tuple[str, Path]] = {}

    def add(kind: str, path: Path | str | None) -> None:
        if path is not None:
            found.setdefault(os.fspath(path), (f"{role}'s {kind}", Path(path)))

    if dataset.format != "tfrecord":  # a TFRecord dataset's source is the folder of its shards, not an input
        add("source", dataset.source)
    add("images folder", dataset.extra.get("image_root"))
    for listed in dataset.extra.get("yolo", {}).get("lists", []):
        add("image list", listed)
    folders: set[str] = set()
    for img in dataset.images:
        if img.path is not None:
            folder = os.path.dirname(os.fspath(img.path))
            if folder not in folders:
                folders.add(folder)
                add("images folder", folder)
            if os.path.islink(img.path):
                add("image", img.path)
        if img.record is not None:
            add("TFRecord shard", img.record.file)
        for key, kind in (("voc_xml", "annotation file"), ("yolo_label", "label file")):
            value = img.extra.get(key)
            if value is not None:
                label_folder = os.path.dirname(os.fspath(value))
                if label_folder not in folders:
                    folders.add(label_folder)
                    add(f"{kind}s folder", label_folder)
    return list(found.values())
