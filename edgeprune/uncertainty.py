"""Per-image scores from a detector's detections, for ``select --model``.

Each detection is ``(box, class, score)`` after non-maximum suppression; the detector reports one class per box, so
the rules are over the image's detection scores ``s_1 >= s_2 >= ...`` (those of at least ``floor``):

- ``least``: ``1 - s_1``, the least confidence of the image's best detection;
- ``margin``: ``1 - (s_1 - s_2)``, small when a second detection is nearly as confident (``s_2 = 0`` with one);
- ``entropy``: the mean binary entropy ``H(s_i) / ln 2`` over the detections, high when scores sit near 0.5.

An image with no detection of at least ``floor`` scores 1 on every rule: the model found nothing it trusts there,
which is what a labeller should see first. Balance: each class gets the weight ``1 / (1 + boxes of it in the
labelled set)``, divided by the largest weight; an image scores the largest weight among its detections of at least
``confident``, and 0 without one.
"""

from __future__ import annotations

import numpy as np

UNCERTAINTIES = ("least", "margin", "entropy")


def uncertainty(detections: list, rule: str, *, floor: float = 0.05) -> np.ndarray:
    """One score in [0, 1] per image from ``[(boxes, classes, scores)]`` (see the module's rules)."""
    values = np.ones(len(detections))
    for index, (_, _, scores) in enumerate(detections):
        kept = np.sort(np.asarray(scores, np.float64)[np.asarray(scores) >= floor])[::-1]
        if not len(kept):
            continue
        if rule == "least":
            values[index] = 1.0 - kept[0]
        elif rule == "margin":
            values[index] = 1.0 - (kept[0] - (kept[1] if len(kept) > 1 else 0.0))
        else:
            p = np.clip(kept, 1e-9, 1 - 1e-9)
            values[index] = float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))) / np.log(2))
    return np.clip(values, 0.0, 1.0)


def balance(detections: list, labeled_boxes: dict[int, int], n_classes: int, *, confident: float = 0.3) -> np.ndarray:
    """One score in [0, 1] per image: how rare in the labelled set its confidently predicted classes are.
    ``labeled_boxes``: label id (1-based, the detector's) -> boxes in the labelled set."""
    weights = np.array([1.0 / (1 + labeled_boxes.get(label, 0)) for label in range(1, n_classes + 1)])
    weights = weights / weights.max()
    values = np.zeros(len(detections))
    for index, (_, classes, scores) in enumerate(detections):
        predicted = np.asarray(classes)[np.asarray(scores) >= confident]
        predicted = predicted[(predicted >= 1) & (predicted <= n_classes)]
        if len(predicted):
            values[index] = float(weights[predicted - 1].max())
    return values
