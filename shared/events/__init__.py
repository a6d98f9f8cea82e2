"""The event bus: what happened, on Redis Streams (durable) and pub/sub (ephemeral)."""

from shared.events.bus import Appended, Bump, EventBus, Replay
from shared.events.consumer import EventConsumer
from shared.events.envelope import Envelope, Repository, StreamEntry, Subject

__all__ = [
    "Appended",
    "Bump",
    "Envelope",
    "EventBus",
    "EventConsumer",
    "Replay",
    "Repository",
    "StreamEntry",
    "Subject",
]
