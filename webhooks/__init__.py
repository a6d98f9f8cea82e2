"""GitHub webhook receiver: verify, dedupe, invalidate, publish.

Filled by the webhooks issue; empty until then.
"""
