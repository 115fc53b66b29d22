#!/usr/bin/env bash
# Regenerate the README figures (docs/img/*.png) from the demo data:
# a synthetic diffuse noise field at 3 km/s recorded by 6 stations for 7 days.
#   usage: docs/make_figures.sh            (from anywhere; needs `c4` on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

c4 --quiet demo --dir "$work" --days 7 >/dev/null
c4 plot moveout "$work/results/stacks/all.zarr" --velocity 3 --velocity 2 \
    --dpi 80 -o docs/img/moveout.png
c4 plot pair "$work/results" SY.S01_SY.S03 --component ZZ --dpi 80 -o docs/img/pair.png
c4 plot stations "$work/results/stacks/all.zarr" --dpi 80 -o docs/img/stations.png
ls -l docs/img/*.png
