"""Benchmark harness: `python bench/run.py [NAME ...]` (via `make bench [B=NAME]`).

Each benchmark is a module `bench/<name>.py` with `run() -> dict`. The harness prints one JSON
line per benchmark and writes `bench/results/<name>.json`, then draws the latest result of every
benchmark into `bench/results/summary.png` (bench/plot.py). Every result carries a `ceiling`
measured in the same run, so the `ratio` means something on a noisy machine, and `correct`
says whether the run's own invariants held.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import plot

HERE = Path(__file__).resolve().parent
REQUIRED = {"name", "value", "unit", "ceiling", "ratio", "correct", "details"}


NOT_BENCHMARKS = {"run", "harness", "plot"}


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_"))


def main(names: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    unknown = set(names) - set(available())
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; available: {available()}", file=sys.stderr)
        return 2
    (HERE / "results").mkdir(exist_ok=True)
    failed = False
    for name in names or available():
        result = importlib.import_module(name).run()
        missing = REQUIRED - result.keys()
        if missing:
            raise RuntimeError(f"benchmark {name} did not report {sorted(missing)}")
        line = json.dumps(result, ensure_ascii=False)
        print(line, flush=True)
        (HERE / "results" / f"{name}.json").write_text(line + "\n")
        failed |= not result["correct"]
    latest = [json.loads(path.read_text()) for path in sorted((HERE / "results").glob("*.json"))]
    print(f"report: {plot.render(latest, HERE / 'results' / 'summary.png')}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
