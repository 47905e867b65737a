#!/usr/bin/env bash
# The main job: install, build, then tune ResNet-18's C2 layer (56x56, 64->64, 3x3) on ml2tuner's
# VTA-compatible accelerator with ML²Tuner for 300 trials. Extra arguments are passed to
# `ml2tuner tune` (e.g. --task resnet18.C9 --template extended --trials 1000 --db run.db, or
# --target replay --space FILE for a recorded GPU space).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
exec "$root/build/ml2tuner" tune --target vta --task resnet18.C2 --tuner ml2 --trials 300 \
  --seed 1 --summary "$root/build/summary.json" "$@"
