#!/usr/bin/env bash
# The main job: install, build, then tune a real recorded GPU space (Kernel Tuner's 2D
# convolution measured on an RTX 3090) with random search for 300 trials. Extra arguments are
# passed to `ml2tuner tune` (e.g. --tuner grid --trials 1000 --db run.db).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
space="${ML2_SPACE:-$root/../shared/data/spaces/kerneltuner/convolution/RTX_3090.json.gz}"
exec "$root/build/ml2tuner" tune --target replay --space "$space" --tuner random --trials 300 \
  --seed 1 --summary "$root/build/summary.json" "$@"
