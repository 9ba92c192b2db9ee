"""The benchmark report as a picture: `bench/results/summary.png`, one bar per benchmark.

Each bar is the benchmark's ratio to the ceiling it measured in the same run (their units differ,
their ratios compare), labelled with both throughputs; a benchmark whose own invariants failed
(`correct` false) is drawn red, and the dashed line is the 0.5 the issues ask for.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen on a server or in CI

import matplotlib.pyplot as plt

TARGET_RATIO = 0.5


def render(results: list[dict], path: Path) -> Path:
    """Draw `results` (the JSON lines `bench/run.py` prints) into a PNG at `path`."""
    ordered = sorted(results, key=lambda result: result["name"])
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.6 * len(ordered)))
    names = [result["name"] for result in ordered]
    ratios = [result["ratio"] for result in ordered]
    colours = ["tab:blue" if result["correct"] else "tab:red" for result in ordered]
    bars = axes.barh(names, ratios, color=colours)
    for bar, result in zip(bars, ordered, strict=True):
        label = f" {result['ratio']:.3f}  ({result['value']:,.1f} vs {result['ceiling']:,.1f} {result['unit']})"
        axes.text(
            bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center", fontsize=8, backgroundcolor="white"
        )
    axes.axvline(TARGET_RATIO, color="grey", linestyle="--", linewidth=1)
    axes.set_xlim(0, max(1.0, *ratios) * 1.6)
    axes.invert_yaxis()
    axes.set_xlabel("ratio to the ceiling measured in the same run")
    axes.set_title("make bench: value / ceiling (red: the run's own invariants failed)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
