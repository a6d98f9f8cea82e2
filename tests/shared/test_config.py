"""Settings: read once from the environment and `.env`, typed, validated, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ENVIRONMENT, Settings, SettingsError


def test_defaults_need_nothing_set() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.github_api_url == "https://api.github.com"
    assert settings.store_backend == "embedded"
    assert settings.key_prefix == "hubbub:"


def test_the_store_backend_follows_what_is_configured() -> None:
    native = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"}, env_file=None)
    rest = Settings.from_env(
        {"UPSTASH_REDIS_REST_URL": "https://x.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "t"},
        env_file=None,
    )
    assert native.store_backend == "native"
    assert rest.store_backend == "rest"


def test_values_are_cast_and_env_file_fills_gaps(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HUBBUB_CACHE_FRESH_S=5\nHUBBUB_CALLER_LIMIT=7\n")
    settings = Settings.from_env(
        {"HUBBUB_CALLER_LIMIT": "9", "HUBBUB_TRUST_PROXY_HEADERS": "true"}, env_file=env_file
    )
    assert settings.cache_fresh_s == 5
    assert settings.caller_limit == 9  # the environment wins over .env
    assert settings.trust_proxy_headers is True


def test_fresh_rules_pick_the_longest_prefix() -> None:
    settings = Settings.from_env(
        {"HUBBUB_CACHE_FRESH_RULES": "/search=5,/repos=30,/repos/octo/hello/issues=0"},
        env_file=None,
    )
    assert settings.fresh_s_for("/search/issues") == 5
    assert settings.fresh_s_for("/repos/octo/hello/issues/3") == 0
    assert settings.fresh_s_for("/repos/octo/other") == 30
    assert settings.fresh_s_for("/users/octocat") == 60


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GITHUB_API_URL": "http://api.github.com"}, "GITHUB_API_URL"),
        ({"GITHUB_API_URL": "https://user:pw@ghe.example.com"}, "GITHUB_API_URL"),
        ({"UPSTASH_REDIS_REST_URL": "https://x.upstash.io"}, "UPSTASH_REDIS_REST_TOKEN"),
        ({"HUBBUB_CALLER_LIMIT": "lots"}, "HUBBUB_CALLER_LIMIT"),
        ({"HUBBUB_CACHE_FRESH_S": "-1"}, "HUBBUB_CACHE_FRESH_S"),
        ({"HUBBUB_CACHE_FRESH_RULES": "search=5"}, "HUBBUB_CACHE_FRESH_RULES"),
        ({"HUBBUB_TRUST_PROXY_HEADERS": "maybe"}, "HUBBUB_TRUST_PROXY_HEADERS"),
        ({"HUBBUB_WEBHOOK_DEDUPE_TTL_S": "86400"}, "HUBBUB_WEBHOOK_DEDUPE_TTL_S"),
        ({"HUBBUB_EVENT_MAX_ATTEMPTS": "0"}, "HUBBUB_EVENT_MAX_ATTEMPTS"),
    ],
)
def test_a_bad_setting_fails_naming_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ, env_file=None)


def test_enterprise_server_urls_are_accepted() -> None:
    settings = Settings.from_env(
        {"GITHUB_API_URL": "https://ghe.example.com/api/v3"}, env_file=None
    )
    assert settings.github_api_url == "https://ghe.example.com/api/v3"


def test_secrets_are_masked_and_never_in_repr() -> None:
    settings = Settings.from_env(
        {
            "GITHUB_TOKEN": "ghp_supersecret",
            "REDIS_URL": "redis://:hunter2@redis.internal:6379",
            "UPSTASH_REDIS_REST_URL": "https://x.upstash.io",
            "UPSTASH_REDIS_REST_TOKEN": "upstash-secret",
        },
        env_file=None,
    )
    shown = settings.masked()
    assert shown["GITHUB_TOKEN"] == shown["REDIS_URL"] == shown["UPSTASH_REDIS_REST_TOKEN"]
    assert shown["GITHUB_TOKEN"] == "********"
    for secret in ("ghp_supersecret", "hunter2", "upstash-secret"):
        assert secret not in repr(settings)
        assert secret not in str(shown)
    assert set(shown) == set(ENVIRONMENT.values())


def test_webhook_secrets_are_a_list_for_rotation() -> None:
    settings = Settings.from_env({"GITHUB_WEBHOOK_SECRET": " new , old ,"}, env_file=None)
    assert settings.webhook_secrets == [b"new", b"old"]
    assert settings.masked()["GITHUB_WEBHOOK_SECRET"] == "********"
    assert "new" not in repr(settings)
    assert Settings.from_env({}, env_file=None).webhook_secrets == []


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [v for v in ENVIRONMENT.values() if f"| `{v}` |" not in table]
    assert missing == []
