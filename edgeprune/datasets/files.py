"""Image files: reading a size from the header, and placing an image's exact bytes in an output tree."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from ..errors import EdgepruneError
from ..images import probe
from .types import ImageRecord

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
IMAGE_MODES = ("copy", "hardlink", "symlink")


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` as displayed (EXIF orientation applied), from the header only; a clear error for a file
    that is not an image."""
    info = probe(path)
    return info.width, info.height


def top_two_levels(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` with one of ``suffixes`` (lower case), at its top level and one level of subfolders
    (hidden ones skipped), sorted."""
    found = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += [p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in suffixes]
    return sorted(found)


def copy_image(img: ImageRecord, target: Path, *, mode: str | Callable[[ImageRecord, Path], None] = "copy") -> None:
    """Put ``img``'s bytes at ``target`` unchanged: a copy, a hard link, a symlink, or the held bytes. A callable
    ``mode`` places the image itself (``curate --runner beam`` collects the copies and runs them on its workers)."""
    if callable(mode):
        mode(img, target)
        return
    if mode not in IMAGE_MODES:
        raise EdgepruneError(f"unknown image mode {mode!r}; choose one of {', '.join(IMAGE_MODES)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if img.path is None:
        target.write_bytes(img.read_bytes())
    elif mode == "symlink":
        os.symlink(img.path.resolve(), target)
    elif mode == "hardlink":
        try:
            os.link(img.path, target)
        except OSError:
            shutil.copyfile(img.path, target)
    else:
        shutil.copyfile(img.path, target)


def safe_relative(name: str, where: Path, what: str) -> str:
    """``name`` as a normalised relative path that stays inside its root; absolute or escaping names are an error
    naming the file that holds them."""
    text = str(name).replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in parts or not parts:
        raise EdgepruneError(f"{where}: {what} {name!r} is absolute or leaves the dataset folder")
    return "/".join(parts)


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats made distinct (``a.jpg``, ``a_1.jpg``, ``a_2.jpg``), never overwriting one another
    in a flat output folder; the first of each keeps its name."""
    taken = {name.lower() for name in names}
    seen: set[str] = set()
    result = []
    for name in names:
        candidate = name
        if candidate.lower() in seen:
            stem, suffix = Path(name).stem, Path(name).suffix
            number = 1
            while f"{stem}_{number}{suffix}".lower() in taken | seen:
                number += 1
            candidate = f"{stem}_{number}{suffix}"
        seen.add(candidate.lower())
        result.append(candidate)
    return result
