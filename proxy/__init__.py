"""The GitHub gateway, as a library and as the serverless app's `/api/github/*` routes.

Packages above import from here only: `Gateway`, its request and response types, the
invalidation vocabulary (scopes and the Invalidator webhooks drive), and the HTTP app
pieces.
"""

from proxy.access import Access, RepositoryAccess, parse_repo
from proxy.auth import AuthEndpoints
from proxy.gateway import Gateway
from proxy.headers import CACHE_CONTROL
from proxy.http_app import Endpoints, GatewayHolder, ProxyEndpoints, create_app, error_response
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse
from proxy.scopes import repo_scope
from proxy.stages.invalidate import Invalidator

__all__ = [
    "CACHE_CONTROL",
    "Access",
    "AuthEndpoints",
    "CacheOutcome",
    "Endpoints",
    "Gateway",
    "GatewayHolder",
    "GatewayRequest",
    "GatewayResponse",
    "Invalidator",
    "ProxyEndpoints",
    "RepositoryAccess",
    "create_app",
    "error_response",
    "parse_repo",
    "repo_scope",
]
