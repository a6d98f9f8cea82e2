"""Vercel's entry point: the serverless layer only (the proxy and webhook routes).

It imports nothing of the persistent layer: cold start is import time.
"""

from proxy import create_app
from shared.config import Settings
from webhooks import WebhookEndpoints

app = create_app(Settings.from_env(), endpoints=[WebhookEndpoints])
