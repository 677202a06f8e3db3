"""Train, evaluate, export and benchmark the SSD-style MobileNetV2 detector (Model Garden, TFLite, Edge TPU)."""
