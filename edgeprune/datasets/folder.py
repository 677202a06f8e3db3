"""A plain image folder, optionally with one subfolder per class (the reference tool's input).

Images directly in the root have no label; images in ``root/<class>/`` get that class as an image-level label.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import EdgepruneError
from ..progress import track
from .files import IMAGE_SUFFIXES, copy_image, image_size, top_two_levels
from .types import Category, Dataset, ImageRecord


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (root level and one level of class subfolders), sorted."""
    return top_two_levels(root, IMAGE_SUFFIXES)


def is_image_folder(path: Path) -> bool:
    """True if ``path`` is a directory holding images at its root or in class subfolders."""
    return path.is_dir() and bool(list_images(path))


def read_folder(path: Path) -> Dataset:
    """Read every image under ``path``; subfolder names become categories."""
    if not path.is_dir():
        raise EdgepruneError(f"{path}: not a directory")
    files = list_images(path)
    class_names = sorted({f.parent.name for f in files if f.parent != path})
    categories = [Category(i + 1, name) for i, name in enumerate(class_names)]
    ids = {c.name: c.id for c in categories}
    images = []
    for f in files:
        width, height = image_size(f)
        relative = f.relative_to(path).as_posix()
        label = ids.get(f.parent.name) if f.parent != path else None
        images.append(ImageRecord(relative, relative, width, height, path=f, label=label))
    return Dataset(images, categories, "folder", source=path)


def write_folder(dataset: Dataset, out_dir: Path, *, image_mode: str = "copy") -> None:
    """Copy the images under ``out_dir``, each in its class subfolder when it has an image-level label."""
    names = dataset.category_names
    for img in track(dataset.images, "writing"):
        name = Path(img.file_name).name
        target = out_dir / names[img.label] / name if img.label is not None else out_dir / name
        copy_image(img, target, mode=image_mode)
