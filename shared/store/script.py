"""A Lua script shipped with Hubbub: its source and SHA-1, loaded from `scripts/<name>.lua`.

A line `-- include: NAME` is replaced by `scripts/lib/NAME.lua`: Redis scripts cannot call
one another, and two scripts that must do the same step (bump scope versions) share it
this way instead of by copy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_SCRIPTS = Path(__file__).parent / "scripts"
_INCLUDE = re.compile(r"^-- include: (\w+)$", re.MULTILINE)


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str


@cache
def load_script(name: str) -> Script:
    source = (_SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")
    source = _INCLUDE.sub(
        lambda match: (_SCRIPTS / "lib" / f"{match[1]}.lua").read_text(encoding="utf-8"), source
    )
    return Script(name, source, hashlib.sha1(source.encode()).hexdigest())  # noqa: S324 - Redis names scripts by SHA-1
