"""GitHub webhook receiver: verify, deduplicate, store on the event bus, invalidate."""

from webhooks.processing import Processor
from webhooks.receiver import PATH, WebhookEndpoints

__all__ = ["PATH", "Processor", "WebhookEndpoints"]
