# Included by every study's Makefile (run from experiments/NAME/): the paths to the repository's virtualenv, data and
# the shared datasets. `make install` at the root first; FOD-A studies need `make -C ../fod-a data SNAPSHOT=...`.
ROOT := ../..
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
EP := $(VENV)/bin/edgeprune
DATA := $(ROOT)/data
FOD ?= $(DATA)/fod_a
BCCD ?= $(ROOT)/../shared/datasets/bccd/BCCD
