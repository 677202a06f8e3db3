#!/usr/bin/env bash
# Unpack FOD-A for the scaling experiment and install edgeprune's video-disjoint split files.
#
#   bash experiments/fod-a/get_fod_a.sh SNAPSHOT_GIT_DIR [DEST]
#
# SNAPSHOT_GIT_DIR is a local git directory of the public mirror github.com/thenorthwes/fodadataset (MIT licence;
# Munyer et al., "FOD-A: A Dataset for Foreign Object Debris in Airports", arXiv 2110.03072), e.g. the path that
# `git clone --bare https://github.com/thenorthwes/fodadataset` leaves. DEST defaults to data/fod_a (git-ignored).
# The split files (train, val, val_all, tune, tune_train) come from experiments/fod-a/results/split/, written by
# experiments/fod-a/fod_split.py; see split.json there for how they were made.
set -euo pipefail
snapshot=${1:?usage: bash experiments/fod-a/get_fod_a.sh SNAPSHOT_GIT_DIR [DEST]}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dest=${2:-$repo/data/fod_a}
if [ ! -d "$dest/Annotations" ]; then
    mkdir -p "$dest.partial"
    git --git-dir="$snapshot" archive HEAD | tar -x -C "$dest.partial"
    mv "$dest.partial" "$dest"
fi
frames=$(ls "$dest/JPEGImages" | wc -l)
[ "$frames" -eq 33793 ] || { echo "$dest: expected 33793 frames, found $frames" >&2; exit 1; }
cp "$repo"/experiments/fod-a/results/split/*.txt "$dest/ImageSets/Main/"
echo "FOD-A in $dest: $frames frames; splits: $(cd "$dest/ImageSets/Main" && ls *.txt | tr '\n' ' ')"
