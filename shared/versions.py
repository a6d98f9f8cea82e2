"""Pinned versions, for code that reaches into a library's private parts.

The direct writes (realtime/fanout.py, realtime/lean_socket.py, proxy/direct_answer.py)
use fields no library promises to keep, so each runs only on the exact versions it was
written and tested against, and says why when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version


def mismatch(pinned: Mapping[str, str], user: str) -> str | None:
    """Why the installed packages are not `pinned` (the first difference, in words naming
    `user`, the code that needs them), or None when they all are."""
    for package, wanted in pinned.items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            return f"{package} is not installed"
        if installed != wanted:
            return f"{package} is {installed}, {user} knows {wanted}"
    return None
