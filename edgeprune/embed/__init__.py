"""Image embeddings: TF-Hub backbone loading, the batched tf.data embedder and the on-disk cache."""

from ..images import content_hash
from ..storage import default_cache_root
from .backbone import Backbone, load_backbone
from .cache import EmbeddingCache
from .dataset import embed_dataset
from .images import embed_images, image_batches

__all__ = [
    "Backbone",
    "EmbeddingCache",
    "content_hash",
    "default_cache_root",
    "embed_dataset",
    "embed_images",
    "image_batches",
    "load_backbone",
]
