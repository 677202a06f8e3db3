import numpy as np
import pytest

from edgeprune.datasets import read_dataset
from edgeprune.detect.config import QUICK_CONFIG, DataSettings, build_params
from edgeprune.errors import EdgepruneError


def settings(**changes):
    base = dict(train_records="x/train*", val_records="x/val*", num_classes=3, steps=10)
    base.update(changes)
    return DataSettings(**base)


def test_yaml_data_and_set_overrides_land_in_the_experiment():
    params = build_params(
        QUICK_CONFIG, settings(image_size=128, width=0.35), ["task.model.head.num_convs=2", "trainer.max_to_keep=7"]
    )
    model = params.task.model
    assert model.num_classes == 4 and model.input_size == [128, 128, 3]
    assert model.backbone.type == "mobilenet" and model.backbone.mobilenet.filter_size_scale == 0.35
    assert model.decoder.fpn.use_separable_conv and model.head.use_separable_conv
    assert model.head.num_convs == 2 and params.trainer.max_to_keep == 7
    assert params.task.train_data.parser.pad is False and params.trainer.train_steps == 10


@pytest.mark.parametrize(
    "changes, overrides, message",
    [
        (dict(image_size=100), [], "not divisible by 2\\^max_level = 64"),
        ({}, ["task.model.nonsense=1"], "--set"),
    ],
)
def test_bad_settings(changes, overrides, message):
    with pytest.raises(EdgepruneError, match=message):
        build_params(QUICK_CONFIG, settings(**changes), overrides)
    with pytest.raises(EdgepruneError, match="config file not found"):
        build_params("nope.yaml", settings())


def test_pretrained_encoder_initialises_the_detector_backbone(tmp_path, digits_coco):
    import tensorflow as tf
    from official.vision.tasks.retinanet import RetinaNetTask

    from edgeprune.embed.selfsup import ENCODER_CHECKPOINT, PretrainConfig, pretrain

    pretrain(
        read_dataset(digits_coco),
        tmp_path / "bb",
        PretrainConfig(steps=1, width=0.35, batch_size=4, image_size=96),
        progress=False,
    )
    checkpoint = str(tmp_path / "bb" / ENCODER_CHECKPOINT)
    params = build_params(QUICK_CONFIG, settings(image_size=128, width=0.35, init_backbone=checkpoint))
    task = RetinaNetTask(params.task)
    model = task.build_model()
    task.initialize(model)
    saved = {
        name: tf.train.load_variable(checkpoint, name)
        for name, _ in tf.train.list_variables(checkpoint)
        if name.startswith("backbone/") and name.endswith("kernel/.ATTRIBUTES/VARIABLE_VALUE")
    }
    assert saved
    loaded = {v.shape: v.numpy() for v in model.backbone.weights if "kernel" in v.name}
    first = next(iter(saved.values()))
    assert any(np.array_equal(first, value) for value in loaded.values())
