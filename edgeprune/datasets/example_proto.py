"""``tf.train.Example`` without TensorFlow: the message classes of ``tensorflow/core/example/{example,feature}.proto``
built from their descriptors (same field numbers, same wire format), so a shard can be parsed in a process that never
imports TensorFlow. Parsing is protobuf's own (upb in C), as fast as TensorFlow's generated class.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def example_class():
    """The ``Example`` message class (``features.feature[key]`` with ``bytes_list``/``float_list``/``int64_list``,
    ``WhichOneof("kind")``), as TensorFlow's ``tf.train.Example`` has it."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="edgeprune/example.proto", package="edgeprune", syntax="proto3")

    def message(name: str, *fields: tuple) -> descriptor_pb2.DescriptorProto:
        described = proto.message_type.add(name=name)
        for number, (field_name, kind, label, type_name, packed) in enumerate(fields, start=1):
            added = described.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name
            if packed:
                added.options.packed = True
        return described

    repeated, optional = field.LABEL_REPEATED, field.LABEL_OPTIONAL
    message("BytesList", ("value", field.TYPE_BYTES, repeated, "", False))
    message("FloatList", ("value", field.TYPE_FLOAT, repeated, "", True))
    message("Int64List", ("value", field.TYPE_INT64, repeated, "", True))
    feature = message(
        "Feature",
        ("bytes_list", field.TYPE_MESSAGE, optional, ".edgeprune.BytesList", False),
        ("float_list", field.TYPE_MESSAGE, optional, ".edgeprune.FloatList", False),
        ("int64_list", field.TYPE_MESSAGE, optional, ".edgeprune.Int64List", False),
    )
    feature.oneof_decl.add(name="kind")
    for member in feature.field:
        member.oneof_index = 0
    features = message("Features", ("feature", field.TYPE_MESSAGE, repeated, ".edgeprune.Features.FeatureEntry", False))
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=field.TYPE_STRING, label=optional)
    entry.field.add(name="value", number=2, type=field.TYPE_MESSAGE, label=optional, type_name=".edgeprune.Feature")
    message("Example", ("features", field.TYPE_MESSAGE, optional, ".edgeprune.Features", False))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("edgeprune.Example"))


def parse_example(data: bytes):
    """A serialised ``tf.train.Example`` parsed (raises ``google.protobuf.message.DecodeError`` when it is not one)."""
    return example_class().FromString(data)


def image_bytes(data: bytes) -> bytes:
    """The ``image/encoded`` bytes of a serialised example."""
    return parse_example(data).features.feature["image/encoded"].bytes_list.value[0]
