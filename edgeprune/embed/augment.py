"""SimCLR augmentations (Chen et al. 2020): random resized crop, flip, colour jitter, grayscale, Gaussian blur.

Every function is stateless: it takes an explicit ``seed`` (an int32/int64 tensor of shape [2]), so the views of a
given element are the same in every run and in every order of a parallel ``tf.data.map``. Images are float32 in
[0, 1] of shape ``[H, W, 3]``.
"""

from __future__ import annotations

import tensorflow as tf


def _split(seed: tf.Tensor, n: int) -> list[tf.Tensor]:
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=n))


def _coin(seed: tf.Tensor, probability: float) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed) < probability


def random_resized_crop(
    image: tf.Tensor, size: int, seed: tf.Tensor, *, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3)
) -> tf.Tensor:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio``, resized to ``size`` square."""
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=20,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.image.resize(tf.slice(image, begin, crop_size), [size, size])


def color_jitter(image: tf.Tensor, seed: tf.Tensor, strength: float = 0.5) -> tf.Tensor:
    """Brightness, contrast, saturation and hue jitter (SimCLR's colour strength ``s``)."""
    s1, s2, s3, s4 = _split(seed, 4)
    image = tf.image.stateless_random_brightness(image, 0.8 * strength, s1)
    image = tf.image.stateless_random_contrast(image, 1 - 0.8 * strength, 1 + 0.8 * strength, s2)
    image = tf.image.stateless_random_saturation(image, 1 - 0.8 * strength, 1 + 0.8 * strength, s3)
    image = tf.image.stateless_random_hue(image, 0.2 * strength, s4)
    return tf.clip_by_value(image, 0.0, 1.0)


def gaussian_blur(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian blur, kernel ~10% of the image, sigma uniform in [0.1, 2.0] (scaled from 224 px)."""
    radius = max(1, size // 20)
    sigma = tf.random.stateless_uniform([], seed, 0.1, 2.0) * (size / 224.0) * 2.0 + 1e-3
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(x**2) / (2.0 * sigma**2))
    kernel /= tf.reduce_sum(kernel)
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(image[None], horizontal, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(blurred, vertical, [1, 1, 1, 1], "SAME")[0]


def simclr_view(
    image: tf.Tensor, size: int, seed: tf.Tensor, *, min_scale: float = 0.25, flip: bool = True
) -> tf.Tensor:
    """One SimCLR view of ``image`` at ``size`` x ``size``, fully determined by ``seed``.

    ``min_scale`` is the smallest crop area fraction (SimCLR uses 0.08 on ImageNet; small images need more);
    ``flip=False`` leaves out the horizontal flip, for data whose meaning changes when mirrored (digits, text).
    """
    crop, flip_seed, jitter_coin, jitter, gray_coin, blur_coin, blur = _split(seed, 7)
    view = random_resized_crop(image, size, crop, scale=(min_scale, 1.0))
    if flip:
        view = tf.image.stateless_random_flip_left_right(view, flip_seed)
    view = tf.cond(_coin(jitter_coin, 0.8), lambda: color_jitter(view, jitter), lambda: view)
    view = tf.cond(_coin(gray_coin, 0.2), lambda: tf.tile(tf.image.rgb_to_grayscale(view), [1, 1, 3]), lambda: view)
    view = tf.cond(_coin(blur_coin, 0.5), lambda: gaussian_blur(view, size, blur), lambda: view)
    return tf.ensure_shape(view, [size, size, 3])
