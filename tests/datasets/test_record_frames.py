import pytest

from edgeprune.datasets.record_frames import masked_crc, read_frames
from edgeprune.errors import EdgepruneError


@pytest.fixture
def written(tmp_path):
    """A TFRecord file written by TensorFlow: an empty record, a short one and a 200 kB one."""
    import tensorflow as tf

    records = [b"", b"one record", bytes(range(256)) * 800]
    path = tmp_path / "data.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path, records


def test_frames_are_tensorflows_records_at_their_offsets(written):
    import tensorflow as tf

    path, records = written
    frames = list(read_frames(path, buffer_size=4096))
    assert [data for _, data in frames] == [r.numpy() for r in tf.data.TFRecordDataset(str(path))] == records
    assert [offset for offset, _ in frames] == [0, 16, 16 + 16 + len(records[1])]


def test_masked_crc_is_the_one_tensorflow_writes(written):
    path, records = written
    raw = path.read_bytes()
    start = 32 + len(records[1]) + 12
    assert masked_crc(records[2]).to_bytes(4, "little") == raw[start + len(records[2]) : start + len(records[2]) + 4]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-10], "record at byte 42: the file ends inside a record of 204800 bytes"),
        (lambda raw: raw[:20], "record at byte 16: the file ends inside a record's header"),
        (lambda raw: raw[:100] + bytes([raw[100] ^ 1]) + raw[101:], "record at byte 42: the data's checksum"),
        (lambda raw: raw[:17] + bytes([raw[17] ^ 1]) + raw[18:], "record at byte 16: the length's checksum"),
    ],
    ids=["cut-in-data", "cut-in-header", "flipped-data-bit", "flipped-length-bit"],
)
def test_damage_is_named_with_the_file_and_byte(written, tmp_path, damage, message):
    path, _ = written
    broken = tmp_path / "broken.tfrecord"
    broken.write_bytes(damage(path.read_bytes()))
    with pytest.raises(EdgepruneError, match=f"broken.tfrecord: corrupt TFRecord \\({message}"):
        list(read_frames(broken))


def jpeg(seed: int) -> bytes:
    """A small JPEG of one colour."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (16, 12), (seed * 40 % 256, 90, 200)).save(out, format="JPEG")
    return out.getvalue()
