"""Which image (or box) a key of a bring-your-own embeddings file names, in every form a user's script writes.

An image answers to:

- its path relative to the dataset root (``JPEGImages/BloodImage_00000.jpg`` in a VOC set; COCO's root is the
  folder of its JSON, or of its ``annotations/`` folder in the official layout; also relative to COCO's images
  folder);
- its name as the annotations write it (COCO ``file_name``, VOC ``<filename>``, a YOLO path under its root; a
  leading ``./`` does not matter);
- its bare file name, when no other image of the compared datasets has it;
- its absolute path (as given, or with symlinks resolved);
- its image id.

A box answers to ``<image key>#<box index>``, the box's position in its image's annotation list. A key that could
name two images is ambiguous and refused; two keys that name one image are refused; keys that name no image of the
datasets being read (another split, a larger set) are skipped and counted.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import EdgepruneError

FORMS_HELP = (
    "keys may be a path relative to the dataset root ({relative}), the name the annotations give ({name}), the bare "
    "file name when it is unique ({bare}), an absolute path, or the image id ({id}); box keys add #<box index>"
)
AMBIGUOUS = -2


def normal(key: str) -> str:
    """A key as compared: forward slashes, no ``./``, no doubled separators."""
    text = str(key).replace("\\", "/")
    return posixpath.normpath(text) if text else text


def dataset_roots(dataset) -> list[Path]:
    """The folders a relative path may start from: the dataset folder (or its annotation file's), COCO's official
    layout root above ``annotations/``, and COCO's images folder."""
    roots = []
    if dataset.source is not None:
        source = Path(dataset.source)
        folder = source if source.is_dir() else source.parent
        roots.append(folder)
        if folder.name == "annotations":
            roots.append(folder.parent)
    if dataset.extra.get("image_root"):
        roots.append(Path(dataset.extra["image_root"]))
    return roots


def image_forms(img, roots: Sequence[Path]) -> set[str]:
    """Every key that names ``img`` (normalised), but the bare file name (unique names are added by the caller)."""
    forms = {normal(img.file_name), normal(str(img.id))}
    if img.path is not None:
        absolute = os.path.abspath(img.path)
        forms |= {normal(absolute), normal(os.path.realpath(absolute))}
        for root in roots:
            relative = os.path.relpath(absolute, os.path.abspath(root))
            if not relative.startswith(".."):
                forms.add(normal(relative))
    return forms


@dataclass
class KeyIndex:
    """Normalised key -> position of the image it names in ``images`` (``AMBIGUOUS`` where it names several)."""

    positions: dict[str, int]
    examples: dict[str, str]  # one image's forms, for messages

    @classmethod
    def build(cls, groups: Sequence[tuple[object, Sequence[object]]]) -> "KeyIndex":
        """From ``(dataset, its images)`` pairs, positions counted over all groups in order."""
        positions: dict[str, int] = {}
        bare: dict[str, int] = {}
        examples: dict[str, str] = {}
        index = 0
        for dataset, images in groups:
            roots = dataset_roots(dataset)
            for img in images:
                for form in image_forms(img, roots):
                    positions[form] = index if positions.get(form, index) == index else AMBIGUOUS
                name = posixpath.basename(normal(img.file_name))
                bare[name] = index if bare.get(name, index) == index else AMBIGUOUS
                if not examples:
                    examples = _examples(img, roots)
                index += 1
        for name, position in bare.items():  # a full form of some image outranks another image's bare name
            positions.setdefault(name, position)
        return cls(positions, examples)

    def help(self) -> str:
        """The accepted forms, with the first image's own keys as examples."""
        return FORMS_HELP.format(**self.examples) if self.examples else FORMS_HELP

    def image_of(self, key: str) -> int | None:
        """The position ``key`` names, None when it names no image; ambiguous keys raise."""
        position = self.positions.get(normal(key))
        if position == AMBIGUOUS:
            raise EdgepruneError(
                f"key {key!r} could name more than one image; use the path relative to the dataset root. " + self.help()
            )
        return position


def _examples(img, roots: Sequence[Path]) -> dict[str, str]:
    relative = img.file_name
    if img.path is not None and roots:
        candidate = os.path.relpath(os.path.abspath(img.path), os.path.abspath(roots[0]))
        relative = candidate if not candidate.startswith("..") else relative
    return {
        "relative": repr(normal(relative)),
        "name": repr(normal(img.file_name)),
        "bare": repr(posixpath.basename(normal(img.file_name))),
        "id": repr(str(img.id)),
    }


def resolve_keys(keys: Sequence[str], index: KeyIndex) -> list[tuple[int, int | None] | None]:
    """For each key, ``(image position, box index or None)``, or None for a key that names nothing here."""
    resolved = []
    for key in keys:
        position = index.image_of(key)
        if position is not None:
            resolved.append((position, None))
            continue
        head, sep, tail = str(key).rpartition("#")
        if sep and tail.isdigit():
            position = index.image_of(head)
            if position is not None:
                resolved.append((position, int(tail)))
                continue
        resolved.append(None)
    return resolved
