"""Identity: who a caller is and which GitHub credential acts for them.

caller          Identity, and identities for a GitHub token or an anonymous caller
resolver        CallerResolver: header, cookie or Socket.IO auth → Identity
session_tokens  Hubbub's session JWTs (imported on first use: it loads cryptography)
sessions        server-side sessions and their rotating refresh tokens
token_vault     GitHub tokens sealed at rest (MultiFernet)
"""

from shared.identity.caller import (
    Identity,
    anonymous_identity,
    bearer_token,
    digest,
    identity_for_token,
)
from shared.identity.resolver import (
    SESSION_COOKIE,
    CallerResolver,
    GitHubUser,
    UserLookup,
    session_identity,
)
from shared.identity.sessions import Session, Sessions
from shared.identity.token_vault import TokenVault

__all__ = [
    "SESSION_COOKIE",
    "CallerResolver",
    "GitHubUser",
    "Identity",
    "Session",
    "Sessions",
    "TokenVault",
    "UserLookup",
    "anonymous_identity",
    "bearer_token",
    "digest",
    "identity_for_token",
    "session_identity",
]
