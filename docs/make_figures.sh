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

# dv/v: 16 days of the synthetic field (10 Hz, 1 h a day) whose medium is 1 % faster from
# 9 January; reference = the first six days; stretching on the direct waves.
python - "$work/dvv" <<'PY'
import datetime as dt
import sys
import tomllib
from pathlib import Path

import tomli_w
from c4.demo import demo_config, write_synthetic_archive

root = Path(sys.argv[1])
arch = write_synthetic_archive(root / "archive", n_stations=5, days=16, day_length_s=3600.0,
                               fs=10.0, aperture_km=60.0, band=(0.05, 1.5), seed=3,
                               velocity_changes={dt.date(2024, 1, 9): 0.01})
(root / "scratch").mkdir()
cfg = demo_config(arch, root / "results", root / "scratch", stack_methods=["linear"],
                  maxlag=40.0)
doc = tomllib.loads(cfg.to_toml())
doc["dvv"] = {"moving": "4d", "reference": ["2024-01-01/2024-01-06"], "lag_min": 0.5,
              "lag_min_travel_times": 0.5, "lag_max_travel_times": 1.3}
(root / "c4.toml").write_text(tomli_w.dumps(doc))
PY
c4 --quiet correlate --config "$work/dvv/c4.toml" --index 0
c4 --quiet stack --config "$work/dvv/c4.toml" --moving 4d --step 1d >/dev/null
c4 --quiet dvv --config "$work/dvv/c4.toml" --method stretching >/dev/null
c4 plot dvv "$work/dvv/results/dvv/stretching.zarr" --dpi 80 -o docs/img/dvv.png
ls -l docs/img/*.png
