"""One decoder for every reader of pixels: EXIF orientation, unusual modes and formats, bad files named."""

import numpy as np
import pytest
from PIL import Image

from edgeprune.errors import EdgepruneError
from edgeprune.images import load_rgb, probe


def _scene() -> np.ndarray:
    """40 wide, 20 high: red left half, blue right half, a green pixel block at the top-left corner."""
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    pixels[:4, :4] = (0, 255, 0)
    return pixels


def _rotated_with_exif(path, suffix="png"):
    """The scene stored turned 90 degrees, with EXIF orientation 6 (rotate 90 CW to display) to undo it."""
    stored = Image.fromarray(np.rot90(_scene(), k=1))  # counter-clockwise: displaying needs 90 CW
    exif = Image.Exif()
    exif[0x0112] = 6
    target = path / f"rotated.{suffix}"
    stored.save(target, exif=exif.tobytes())
    return target


def test_exif_orientation_is_applied_and_reported(tmp_path):
    target = _rotated_with_exif(tmp_path)
    info = probe(target)
    assert (info.width, info.height, info.orientation, info.native) == (40, 20, 6, False)
    np.testing.assert_array_equal(load_rgb(target), _scene())


def test_exif_rotated_image_embeds_like_the_upright_one(tmp_path, pixel_backbone):
    from edgeprune.embed import embed_images, load_backbone

    upright = tmp_path / "upright.png"
    Image.fromarray(_scene()).save(upright)
    rotated = _rotated_with_exif(tmp_path)
    backbone = load_backbone(pixel_backbone, image_size=32)
    embeddings = embed_images([upright, rotated], backbone, progress=False)
    np.testing.assert_allclose(embeddings[0], embeddings[1], atol=1e-6)


@pytest.mark.parametrize(
    "mode, suffix",
    [("CMYK", "jpg"), ("I;16", "png"), ("P", "png"), ("RGBA", "png"), ("RGB", "webp"), ("LA", "png")],
)
def test_unusual_modes_and_formats_decode_to_rgb(tmp_path, mode, suffix, pixel_backbone):
    from edgeprune.embed import embed_images, load_backbone

    scene = Image.fromarray(_scene())
    if mode == "I;16":
        image = Image.fromarray((np.asarray(scene.convert("L"), np.uint16) * 257))
    elif mode == "P":
        image = scene.convert("P", palette=Image.ADAPTIVE)
        image.info["transparency"] = 0
    else:
        image = scene.convert(mode)
    target = tmp_path / f"image.{suffix}"
    image.save(target, **({"lossless": True} if suffix == "webp" else {}))
    pixels = load_rgb(target)
    assert pixels.shape == (20, 40, 3) and pixels.dtype == np.uint8
    if mode in ("P", "RGBA", "RGB"):
        np.testing.assert_allclose(pixels.astype(int), _scene().astype(int), atol=8)
    if mode == "I;16":
        assert pixels.max() > 20 and (pixels[..., 0] == pixels[..., 2]).all()  # scaled to 8 bits, grey
    embeddings = embed_images([target], load_backbone(pixel_backbone, image_size=32), progress=False)
    assert np.isfinite(embeddings).all() and embeddings.shape == (1, 16 * 16 * 3)


def test_bad_files_are_named_with_the_reason(tmp_path, monkeypatch):
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(EdgepruneError, match=r"garbage.jpg: not a readable image \(UnidentifiedImageError"):
        probe(garbage)
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64 x 64 is then past twice the limit: a "bomb"
    with pytest.raises(EdgepruneError, match=r"big.png: cannot decode image \(DecompressionBombError"):
        load_rgb(big)


def test_training_records_hold_upright_pixels(tmp_path):
    import tensorflow as tf

    from edgeprune.datasets import ImageRecord
    from edgeprune.detect.data import upright_record

    rotated = _rotated_with_exif(tmp_path)
    record = upright_record(ImageRecord(1, "rotated.png", 40, 20, path=rotated))
    assert record.file_name == "rotated.png" and (record.width, record.height) == (40, 20) and record.path is None
    decoded = tf.io.decode_image(record.encoded, channels=3).numpy()  # as Model Garden's decoder reads it
    np.testing.assert_array_equal(decoded, _scene())
    plain = ImageRecord(2, "upright.png", 40, 20, path=tmp_path / "upright.png")
    Image.fromarray(_scene()).save(plain.path)
    assert upright_record(plain) is plain


def test_annotated_size_that_disagrees_with_the_displayed_one_is_warned(tmp_path, caplog):
    import json

    from edgeprune.datasets import read_dataset

    _rotated_with_exif(tmp_path)
    coco = {
        "images": [{"id": 1, "file_name": "rotated.png", "width": 20, "height": 40}],  # the stored, unrotated size
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    with caplog.at_level("WARNING"):
        read_dataset(tmp_path / "annotations.json")
    assert "rotated.png: annotated 20x40, displayed 40x20 (EXIF orientation 6)" in caplog.text
