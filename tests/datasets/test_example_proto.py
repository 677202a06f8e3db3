import pytest

from edgeprune.datasets.example_proto import example_class, image_bytes, parse_example


def model_garden_example():
    """An example as Model Garden's detection ``TfExampleBuilder`` writes it: image, boxes, labels and texts."""
    from io import BytesIO

    from official.vision.data.tf_example_builder import TfExampleBuilder
    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (6, 8), (90, 30, 200)).save(png, format="PNG")
    builder = TfExampleBuilder()
    builder.add_encoded_image_feature(png.getvalue(), "png", 8, 6)
    builder.add_boxes_feature(xmins=[0.1, 0.5], xmaxs=[0.4, 0.9], ymins=[0.2, 0.0], ymaxs=[0.6, 1.0], labels=[3, 7])
    builder.add_bytes_feature("image/object/class/text", [b"car", b"person"])
    return builder.example


def values(feature):
    kind = feature.WhichOneof("kind")
    return kind, list(getattr(feature, kind).value)


def test_parses_what_tensorflow_writes_feature_for_feature():
    theirs = model_garden_example()
    ours = parse_example(theirs.SerializeToString())
    assert set(ours.features.feature) == set(theirs.features.feature)
    for key, feature in theirs.features.feature.items():
        assert values(ours.features.feature[key]) == values(feature), key  # float32 on both sides: equal
    assert image_bytes(theirs.SerializeToString()) == theirs.features.feature["image/encoded"].bytes_list.value[0]


def test_tensorflow_parses_what_it_writes():
    import tensorflow as tf

    ours = example_class()()
    ours.features.feature["image/object/class/label"].int64_list.value.extend([1, 2**40])
    ours.features.feature["image/object/bbox/xmin"].float_list.value.append(0.25)
    ours.features.feature["image/filename"].bytes_list.value.append(b"a.jpg")
    theirs = tf.train.Example.FromString(ours.SerializeToString())
    assert values(theirs.features.feature["image/object/class/label"]) == ("int64_list", [1, 2**40])
    assert values(theirs.features.feature["image/object/bbox/xmin"]) == ("float_list", [0.25])
    assert values(theirs.features.feature["image/filename"]) == ("bytes_list", [b"a.jpg"])


def test_bytes_that_are_not_an_example_do_not_parse():
    from google.protobuf.message import DecodeError

    with pytest.raises(DecodeError):
        parse_example(b"\xff\xfe not a protobuf")
