"""The cache key: who is asking, for what, in which representation — hashed.

The partition is already a hash of the caller's credential, so no token reaches a key
name. `Accept` and the API version are part of the key because GitHub does not list
`X-GitHub-Api-Version` in `Vary`: a Vary-driven cache would mix two versions' bodies.
"""

from __future__ import annotations

import hashlib

from proxy.messages import GatewayRequest
from proxy.target import Target


def cache_key(request: GatewayRequest, default_api_version: str) -> str:
    return key_for(
        request.identity.partition,
        Target(request.path, request.query),
        request.accept,
        request.api_version or default_api_version,
    )


def key_for(partition: str, target: Target, accept: str, api_version: str) -> str:
    material = "\x00".join(
        (partition, "GET", target.canonical(), accept, api_version)  # HEAD: the GET entry
    )
    return hashlib.sha256(material.encode()).hexdigest()[:48]
