"""Which environment each way of running the platform starts in. The kit defaults to dev (a source
checkout), so an image must say prod itself, and every dev setup must say dev."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def runtime_env(dockerfile: Path) -> dict[str, str]:
    """The ENV of the image's last stage (the one that runs), as NAME=value pairs."""
    last_stage = dockerfile.read_text().rsplit("\nFROM ", 1)[1].replace("\\\n", " ")
    pairs = [pair for line in re.findall(r"^ENV (.+)$", last_stage, re.M) for pair in line.split()]
    return dict(pair.split("=", 1) for pair in pairs)


def test_images_run_in_prod_unless_told_otherwise() -> None:
    for dockerfile in (ROOT / "services/Dockerfile", ROOT / "gateway/Dockerfile"):
        assert runtime_env(dockerfile)["SOCIALMALL_ENV"] == "prod", dockerfile


def test_compose_and_the_dev_overlay_say_dev() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    apps = {name: s for name, s in compose["services"].items() if "build" in s or name.endswith(("-api", "-worker"))}
    assert len(apps) == 11 and all(s["environment"]["SOCIALMALL_ENV"] == "dev" for s in apps.values()), apps.keys()
    overlay = yaml.safe_load((ROOT / "deploy/k8s/overlays/dev/kustomization.yaml").read_text())
    literals = [lit for generator in overlay["configMapGenerator"] for lit in generator.get("literals", [])]
    assert "SOCIALMALL_ENV=dev" in literals
