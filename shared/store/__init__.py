"""The Store: Redis commands behind one Protocol, on three backends (see connect.py)."""

from shared.store.connect import connect
from shared.store.protocol import Command, Store, SubscribingStore
from shared.store.script import Script, load_script

__all__ = ["Command", "Script", "Store", "SubscribingStore", "connect", "load_script"]
