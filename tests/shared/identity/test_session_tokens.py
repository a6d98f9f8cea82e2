"""Session tokens and the settings that shape them."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from shared.config import Settings, SettingsError
from shared.errors import NotAuthenticated
from shared.identity.session_tokens import SessionTokens, new_key_entry

SIGN_IN = {
    "GITHUB_CLIENT_ID": "Iv1.x",
    "GITHUB_CLIENT_SECRET": "s",
    "HUBBUB_SESSION_KEYS": new_key_entry("EdDSA", "a"),
    "HUBBUB_TOKEN_KEYS": Fernet.generate_key().decode(),
}


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ, env_file=None)


@pytest.mark.parametrize("algorithm", ["EdDSA", "HS256"])
def test_a_token_names_its_user_session_and_key(algorithm: str) -> None:
    tokens = SessionTokens(
        settings(
            HUBBUB_SESSION_ALGORITHM=algorithm,
            HUBBUB_SESSION_KEYS=new_key_entry(algorithm, "k1"),
        )
    )
    token, issued = tokens.issue(user_id=42, login="alice", session_id="s1")
    claims = tokens.verify(token)
    assert (claims.user_id, claims.login, claims.session_id) == (42, "alice", "s1")
    assert claims.token_id == issued.token_id


def test_a_token_of_another_issuer_is_refused() -> None:
    key = new_key_entry("EdDSA", "k1")
    ours = SessionTokens(settings(HUBBUB_SESSION_KEYS=key))
    theirs = SessionTokens(settings(HUBBUB_SESSION_KEYS=key, HUBBUB_SESSION_ISSUER="other"))
    token, _ = theirs.issue(user_id=1, login="a", session_id="s")
    with pytest.raises(NotAuthenticated) as refused:
        ours.verify(token)
    assert refused.value.code == "invalid_issuer"


def test_an_algorithm_switch_is_refused() -> None:
    """The same bytes configured as an HS256 secret cannot verify an EdDSA deployment's
    tokens, nor the reverse: the header's alg must be the configured one."""
    key = new_key_entry("EdDSA", "k1")
    eddsa = SessionTokens(settings(HUBBUB_SESSION_KEYS=key))
    hs256 = SessionTokens(settings(HUBBUB_SESSION_KEYS=key, HUBBUB_SESSION_ALGORITHM="HS256"))
    token, _ = hs256.issue(user_id=1, login="a", session_id="s")
    with pytest.raises(NotAuthenticated) as refused:
        eddsa.verify(token)
    assert refused.value.code == "invalid_token"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"HUBBUB_SESSION_ALGORITHM": "HS256", "HUBBUB_SESSION_KEYS": "k:" + "A" * 20}, "under 32"),
        ({"HUBBUB_SESSION_KEYS": "k:" + "A" * 20}, "Ed25519"),
        ({"HUBBUB_SESSION_KEYS": "no-colon"}, "kid:base64url"),
        ({"HUBBUB_SESSION_KEYS": "a:" + "A" * 43 + ",a:" + "B" * 43}, "share one kid"),
        ({"HUBBUB_SESSION_ALGORITHM": "none"}, "EdDSA or HS256"),
        ({"HUBBUB_TOKEN_KEYS": "not-a-fernet-key"}, "HUBBUB_TOKEN_KEYS"),
        ({"HUBBUB_ALLOWED_ORIGINS": "https://x.example/path"}, "HUBBUB_ALLOWED_ORIGINS"),
        ({**SIGN_IN, "HUBBUB_TOKEN_KEYS": ""}, "HUBBUB_TOKEN_KEYS is required"),
        ({**SIGN_IN, "GITHUB_CLIENT_SECRET": ""}, "GITHUB_CLIENT_SECRET is required"),
    ],
)
def test_bad_identity_settings_fail_at_start_up_naming_the_variable(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named) as failed:
        settings(**environ)
    # A key's text never appears in the message.
    for name in ("HUBBUB_SESSION_KEYS", "HUBBUB_TOKEN_KEYS"):
        if environ.get(name):
            assert environ[name].split(":")[-1] not in str(failed.value)


def test_sign_in_settings_and_secrets_are_masked() -> None:
    configured = settings(
        **SIGN_IN, HUBBUB_ALLOWED_ORIGINS="https://Dash.example, https://b.example"
    )
    shown = configured.masked()
    assert configured.oauth_enabled
    assert configured.allowed_origins == ("https://dash.example", "https://b.example")
    assert shown["HUBBUB_SESSION_KEYS"] == shown["HUBBUB_TOKEN_KEYS"] == "********"
    assert shown["GITHUB_CLIENT_SECRET"] == "********"
    assert shown["HUBBUB_ALLOWED_ORIGINS"] == "https://dash.example,https://b.example"
    seed = configured.session_key_list[0][1]
    assert len(seed) == 32
    assert base64.urlsafe_b64encode(seed).decode().rstrip("=") in SIGN_IN["HUBBUB_SESSION_KEYS"]
