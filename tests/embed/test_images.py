import numpy as np
import pytest
import tensorflow as tf

from edgeprune.datasets import read_dataset
from edgeprune.embed import embed_dataset, embed_images, load_backbone
from edgeprune.embed.images import decode_image, jpeg_ratio
from edgeprune.errors import EdgepruneError
from edgeprune.images import probe


@pytest.fixture(scope="module")
def backbone(tiny_backbone):
    return load_backbone(tiny_backbone, image_size=32)


def test_batched_equals_one_by_one(digits_coco, backbone):
    paths = sorted((digits_coco / "images").glob("*.jpg"))[:10]
    batched = embed_images(paths, backbone, batch_size=4, progress=False)
    ratios = [
        jpeg_ratio(probe(p).width, probe(p).height, 32) for p in paths
    ]  # upright JPEGs decode at a reduced DCT scale
    singles = np.concatenate(
        [backbone(decode_image(tf.io.read_file(str(p)), 32, "unit", r)[None]).numpy() for p, r in zip(paths, ratios)]
    )
    np.testing.assert_allclose(batched, singles, rtol=1e-4, atol=1e-5)  # batch size moves the last digits


def test_bytes_sources_equal_path_sources(digits_coco, backbone):
    paths = sorted((digits_coco / "images").glob("*.jpg"))[:5]
    from_paths = embed_images(paths, backbone, progress=False)
    from_bytes = embed_images([p.read_bytes() for p in paths], backbone, progress=False)
    np.testing.assert_allclose(from_paths, from_bytes)


def test_tfrecord_examples_read_whole_files_or_by_offset_alike(tmp_path, digits_coco, backbone):
    import edgeprune.embed.images as images
    from edgeprune.datasets import write_dataset
    from edgeprune.embed.images import image_source

    write_dataset(read_dataset(digits_coco), tmp_path / "records", format="tfrecord")
    records = read_dataset(tmp_path / "records")
    refs = [image_source(img) for img in records.images]
    paths = [digits_coco / "images" / img.file_name for img in records.images]
    expected = embed_images(paths, backbone, progress=False)
    assert images._whole_files(refs) is not None  # every record of the file, in order: TFRecordDataset
    np.testing.assert_array_equal(embed_images(refs, backbone, progress=False), expected)
    assert images._whole_files(refs[::2]) is None  # a subset: read by offset
    np.testing.assert_array_equal(embed_images(refs[::2], backbone, progress=False), expected[::2])
    split = [ref for i in range(2) for ref in refs[i::2]]  # every record, but not in file order: by offset
    assert images._whole_files(split) is None
    np.testing.assert_array_equal(
        embed_images(split, backbone, progress=False), np.concatenate([expected[::2], expected[1::2]])
    )


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_image_is_named(tmp_path, digits_coco, backbone, damage):
    paths = []
    for p in sorted((digits_coco / "images").glob("*.jpg"))[:7]:
        target = tmp_path / p.name
        target.write_bytes(p.read_bytes())
        paths.append(target)
    data = paths[5].read_bytes()
    paths[5].write_bytes(data[: len(data) // 3] if damage == "truncate" else b"\x00" * 100)
    with pytest.raises(EdgepruneError, match=f"{paths[5].name}: (corrupt or truncated|not a readable) image"):
        embed_images(paths, backbone, batch_size=2, progress=False)


def test_second_run_is_served_from_the_cache(tmp_path, digits_coco, backbone):
    dataset = read_dataset(digits_coco)
    first, counts = embed_dataset(dataset, backbone, cache_root=tmp_path, progress=False)
    assert counts == {"cached": 0, "computed": len(dataset)}
    second, counts = embed_dataset(dataset, backbone, cache_root=tmp_path, progress=False)
    assert counts == {"cached": len(dataset), "computed": 0}
    np.testing.assert_array_equal(first, second)


def test_an_images_bytes_are_read_once_for_its_cache_key_and_header(digits_coco, backbone, monkeypatch):
    from edgeprune.datasets.types import ImageRecord
    from edgeprune.images import content_hash

    dataset = read_dataset(digits_coco)
    reads = []
    original = ImageRecord.read_bytes
    monkeypatch.setattr(ImageRecord, "read_bytes", lambda self: reads.append(self.file_name) or original(self))
    embed_dataset(dataset, backbone, progress=False)
    assert sorted(reads) == sorted(img.file_name for img in dataset.images)  # the pipeline reads files in C++
    assert dataset.images[0].content()[0] == content_hash(original(dataset.images[0]))
    embed_dataset(dataset, backbone, progress=False)
    assert len(reads) == len(dataset)  # the second embedding remembers every key and header


def test_a_large_result_is_a_scratch_file_with_the_same_rows(tmp_path, digits_coco, backbone, monkeypatch):
    dataset = read_dataset(digits_coco)
    in_memory, _ = embed_dataset(dataset, backbone, cache_root=tmp_path / "cache", progress=False)
    monkeypatch.setenv("EDGEPRUNE_SPILL_MIB", str(1 / 1024))
    monkeypatch.setenv("EDGEPRUNE_SCRATCH", str(tmp_path / "scratch"))
    cached, counts = embed_dataset(dataset, backbone, cache_root=tmp_path / "cache", progress=False)
    computed, _ = embed_dataset(dataset, backbone, cache_root=None, progress=False)
    assert counts["cached"] == len(dataset) and isinstance(cached, np.memmap) and isinstance(computed, np.memmap)
    np.testing.assert_array_equal(cached, in_memory)
    np.testing.assert_allclose(computed, in_memory, rtol=1e-5, atol=1e-6)


def test_a_bad_image_that_only_pillow_decodes_is_named(tmp_path, backbone):
    """An EXIF-rotated PNG (decoded by Pillow inside the pipeline) cut short after its header, after a good TIFF
    that only Pillow reads: the message names the broken file, not the first one ``tf.io`` cannot decode."""
    from PIL import Image

    good = tmp_path / "good.tif"
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(good)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(
        rotated, exif=exif.tobytes()
    )
    rotated.write_bytes(rotated.read_bytes()[: rotated.stat().st_size // 2])
    with pytest.raises(EdgepruneError, match="rotated.png: corrupt or truncated image"):
        embed_images([good, rotated], backbone, batch_size=2, progress=False)
