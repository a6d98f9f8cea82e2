"""A Lua script shipped with Hubbub: its source and SHA-1, loaded from `scripts/<name>.lua`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_SCRIPTS = Path(__file__).parent / "scripts"


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str


@cache
def load_script(name: str) -> Script:
    source = (_SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())  # noqa: S324 - Redis names scripts by SHA-1
