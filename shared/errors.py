"""Hubbub's error family; each protocol (HTTP, Socket.IO, MCP) maps it in one place.

    HubbubError                       code, message, status
    ├─ InvalidRequest 400             (PathRejected, BodyInvalid)
    │  └─ BodyTooLarge 413
    ├─ NotAuthenticated 401
    ├─ Forbidden 403
    ├─ NotFound 404
    ├─ MethodNotAllowed 405
    ├─ RateLimited 429                retry_after_s
    ├─ UpstreamUnavailable 502/503/504 retry_after_s
    └─ StoreError 500
       └─ StoreUnavailable 503

Messages are shown to clients as they are: never put a token, a secret or a request
body in one.
"""

from __future__ import annotations

import math


class HubbubError(Exception):
    status: int = 500
    code: str = "internal_error"
    # Extra response headers the error carries (Retry-After, RateLimit-*).
    headers: dict[str, str]

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.headers = {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequest(HubbubError):
    status = 400
    code = "invalid_request"


class PathRejected(InvalidRequest):
    code = "path_rejected"


class BodyInvalid(InvalidRequest):
    code = "invalid_body"


class BodyTooLarge(InvalidRequest):
    status = 413
    code = "body_too_large"


class NotAuthenticated(HubbubError):
    status = 401
    code = "unauthorized"


class Forbidden(HubbubError):
    status = 403
    code = "forbidden"


class NotFound(HubbubError):
    status = 404
    code = "not_found"


class MethodNotAllowed(HubbubError):
    status = 405
    code = "method_not_allowed"


class RateLimited(HubbubError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
        self.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))


class UpstreamUnavailable(HubbubError):
    status = 502
    code = "upstream_unavailable"

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        code: str | None = None,
        retry_after_s: float | None = None,
    ):
        super().__init__(message, code=code, status=status)
        self.retry_after_s = retry_after_s
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))


class StoreError(HubbubError):
    status = 500
    code = "store_error"


class StoreUnavailable(StoreError):
    status = 503
    code = "store_unavailable"
