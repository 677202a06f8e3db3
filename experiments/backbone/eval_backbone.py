"""Is the self-supervised backbone any good? k-NN accuracy of its embeddings against two baselines.

For scikit-learn's digits (8x8 images upscaled) and BCCD object crops (class = cell type), reports 5-fold
cross-validated accuracy and balanced accuracy (BCCD is 85% red cells) of a 5-NN classifier and of a linear probe
on the features of:
  (a) edgeprune's self-supervised backbone, pretrained here on the same images without labels,
  (b) the same architecture with random weights,
  (c) raw resized pixels.

    python experiments/backbone/eval_backbone.py [--steps 600] [--image-size 96] [--out eval_backbone.json] [--work DIR]

With ``--work DIR`` the backbones are kept there, keyed by data content and settings: an interrupted pretraining
continues from its checkpoint and a finished one is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[2]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from edgeprune.datasets import read_dataset  # noqa: E402
from edgeprune.datasets.synthetic import digit_pixels  # noqa: E402
from edgeprune.embed import load_backbone  # noqa: E402
from edgeprune.embed.selfsup import PretrainConfig, build_encoder, cached_pretrain, embed_with  # noqa: E402
from edgeprune.vectors import center, l2_normalize  # noqa: E402

tf.get_logger().setLevel("ERROR")
BCCD = REPO.parent / "shared" / "datasets" / "bccd" / "BCCD"


def digits_folder(root: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Digits as 64-px RGB PNGs in class folders (the labels are for evaluation only)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for index, (image, label) in enumerate(zip(digits.images, digits.target)):
        pixels = Image.fromarray(digit_pixels(image)).resize((64, 64), Image.BILINEAR).convert("RGB")
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        pixels.save(root / str(label) / f"{index:04d}.png")
        images.append(np.asarray(pixels))
    return root, np.stack(images), digits.target


def bccd_crops(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every non-degenerate BCCD box, 10% context, resized square; label = category id."""
    dataset = read_dataset(BCCD)
    crops, labels = [], []
    for img in dataset.images:
        with Image.open(img.path) as im:
            im = im.convert("RGB")
            for box in img.boxes:
                x, y, w, h = box.bbox
                if w < 2 or h < 2:
                    continue
                pad = 0.1 * max(w, h)
                crop = im.crop(
                    (max(0, x - pad), max(0, y - pad), min(im.width, x + w + pad), min(im.height, y + h + pad))
                )
                crops.append(np.asarray(crop.resize((size, size), Image.BILINEAR)))
                labels.append(box.category_id)
    return np.stack(crops), np.array(labels)


def embed_arrays(fn, images: np.ndarray, size: int, batch: int = 256) -> np.ndarray:
    out = []
    for start in range(0, len(images), batch):
        chunk = tf.image.resize(tf.cast(images[start : start + batch], tf.float32) / 255.0, [size, size])
        out.append(fn(chunk).numpy())
    return np.concatenate(out)


def probe_scores(features: np.ndarray, labels: np.ndarray, k: int = 5) -> dict[str, float]:
    """5-fold CV accuracy of a k-NN classifier and of a linear probe on centred, L2-normalised features.

    k-NN uses cosine distance, as curate does; the linear probe is scikit-learn's default logistic regression
    (C = 1, not tuned) on standardised features.
    """
    features = l2_normalize(center(features))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {}
    classifiers = {
        "knn": KNeighborsClassifier(k),
        "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    }
    for name, classifier in classifiers.items():
        predicted = cross_val_predict(classifier, features, labels, cv=folds)
        scores[f"{name}_accuracy"] = round(accuracy_score(labels, predicted), 4)
        scores[f"{name}_balanced_accuracy"] = round(balanced_accuracy_score(labels, predicted), 4)
    return scores


def evaluate(name: str, images: np.ndarray, labels: np.ndarray, backbone_dir: Path, size: int, width: float) -> dict:
    selfsup = load_backbone(backbone_dir, image_size=size)
    tf_keras.utils.set_random_seed(0)
    random_encoder = build_encoder(width)
    results = {
        "self-supervised": probe_scores(embed_arrays(selfsup, images, size), labels),
        "random weights": probe_scores(embed_arrays(lambda x: embed_with(random_encoder, x), images, size), labels),
        "raw pixels": probe_scores(embed_arrays(lambda x: tf.reshape(x, [len(x), -1]), images, 32), labels),
    }
    print(f"\n{name}: {len(images)} images, {len(np.unique(labels))} classes (5-fold CV; accuracy / balanced accuracy)")
    print(f"  {'':16s} {'5-NN (cosine)':>15s} {'linear probe':>15s}")
    for method, scores in results.items():
        knn = f"{scores['knn_accuracy']:.3f} / {scores['knn_balanced_accuracy']:.3f}"
        linear = f"{scores['linear_accuracy']:.3f} / {scores['linear_balanced_accuracy']:.3f}"
        print(f"  {method:16s} {knn:>15s} {linear:>15s}")
    return results


def pretrained(dataset_dir: Path, work: Path, config: PretrainConfig) -> tuple[Path, float]:
    """The backbone for ``config`` on ``dataset_dir``, cached in ``work`` (reused, or resumed), and seconds spent."""
    started = time.perf_counter()
    backbone = cached_pretrain(read_dataset(dataset_dir), config, cache_root=work)
    return backbone, round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--width", type=float, default=0.35)
    parser.add_argument("--min-crop-scale", type=float, default=0.5)
    parser.add_argument("--no-flip", dest="flip", action="store_false", help="pretrain without horizontal flips")
    parser.add_argument("--only", choices=("digits", "bccd"), help="evaluate one dataset only")
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=Path("eval_backbone.json"))
    parser.add_argument("--recalibrate-bn", type=int, default=0, help="batch norm from N clean images after training")
    parser.add_argument("--work", type=Path, help="keep (and reuse or resume) the backbones here; default: a temp dir")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    common = dict(
        steps=args.steps,
        image_size=args.image_size,
        width=args.width,
        min_crop_scale=args.min_crop_scale,
        flip=args.flip,
        temperature=args.temperature,
        batch_norm_images=args.recalibrate_bn,
    )
    report: dict = dict(common)
    if args.only != "bccd":
        folder, images, labels = digits_folder(work / "digits")
        backbone, report["digits_pretrain_seconds"] = pretrained(folder, work, PretrainConfig(**common))
        report["digits"] = evaluate("digits", images, labels, backbone, args.image_size, args.width)

    if BCCD.is_dir() and args.only != "digits":
        crops, crop_labels = bccd_crops(args.image_size)
        config = PretrainConfig(**common, crops=True)
        backbone, report["bccd_pretrain_seconds"] = pretrained(BCCD, work, config)
        report["bccd_crops"] = evaluate("BCCD object crops", crops, crop_labels, backbone, args.image_size, args.width)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
