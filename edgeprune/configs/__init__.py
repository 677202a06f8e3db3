"""Model Garden experiment overrides for the SSD-style MobileNetV2 detector, shipped as package data
(``edgeprune.configs``), so ``train-export`` finds them after a plain ``pip install``."""
