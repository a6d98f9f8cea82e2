"""The GitHub gateway, as a library and as the serverless app's `/api/github/*` routes.

Packages above import from here only: `Gateway`, its request and response types, and
the HTTP app pieces.
"""

from proxy.gateway import Gateway
from proxy.http_app import GatewayHolder, ProxyEndpoints, create_app, error_response
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse

__all__ = [
    "CacheOutcome",
    "Gateway",
    "GatewayHolder",
    "GatewayRequest",
    "GatewayResponse",
    "ProxyEndpoints",
    "create_app",
    "error_response",
]
