"""`make bench` draws its report: the latest result of every benchmark, as one PNG."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import plot  # noqa: E402
import run  # noqa: E402


def result(name: str, ratio: float, correct: bool = True) -> dict:
    return {
        "name": name,
        "value": ratio * 1000,
        "unit": "calls/s",
        "ceiling": 1000.0,
        "ratio": ratio,
        "correct": correct,
    }


def test_the_report_is_a_png_of_every_result(tmp_path: Path) -> None:
    small = plot.render([result("one", 0.4)], tmp_path / "one.png")
    many = plot.render([result("a", 0.2), result("b", 0.7, correct=False), result("c", 1.3)], tmp_path / "many.png")
    for picture in (small, many):
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert many.stat().st_size > small.stat().st_size  # three labelled bars, not one


def test_only_benchmark_modules_are_run_as_benchmarks() -> None:
    names = run.available()
    assert {"groupbuy_flash", "gateway_overhead", "grpc_baseline", "retail_checkout"} <= set(names)
    assert not {"run", "harness", "plot"} & set(names) and not [n for n in names if n.startswith("_")]
