"""A Store wrapper that counts what is asked of it: tests show a path makes no Store call."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.store import Store


class CountingStore:
    """Counts every method call (`calls`) and every Lua script run, by name (`scripts`)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.scripts: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute) or name == "subscribe":
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "eval_script":
                self.scripts[args[0].name] += 1
            return await attribute(*args, **kwargs)

        return counted
