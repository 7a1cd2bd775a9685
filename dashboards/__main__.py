"""``python -m dashboards [--out DIR]``: write the dashboards' JSON (default
dashboards/json/), following alerts/config.yml or $LLM_EXPORTER_ALERTS_CONFIG."""

import argparse
from pathlib import Path

from .generate import OUT, write

parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
parser.add_argument("--out", type=Path, default=OUT)
for path in write(parser.parse_args().out):
    print(f"wrote {path}")
