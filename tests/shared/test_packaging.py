"""What `pip install .` ships (the Docker image): every Lua script, included ones too."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_lua_script_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["shared.store"]
    package = ROOT / "shared" / "store"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    scripts = set(package.glob("scripts/**/*.lua"))
    assert scripts and scripts <= shipped, sorted(str(s) for s in scripts - shipped)
