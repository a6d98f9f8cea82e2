"""The `hubbub` command: help on every subcommand, and `config` with secrets masked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from realtime.cli import _dev_keys, build_parser
from shared.config import Settings


@pytest.mark.parametrize("command", ["dev", "serve", "config", "keys"])
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 100


def test_config_prints_effective_settings_with_secrets_masked(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "config"],
        env={"GITHUB_TOKEN": "ghp_do_not_print_me", "HUBBUB_CALLER_LIMIT": "42", "PATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "HUBBUB_CALLER_LIMIT=42" in done.stdout
    assert "GITHUB_TOKEN=********" in done.stdout
    assert "ghp_do_not_print_me" not in done.stdout + done.stderr


def test_config_names_the_bad_variable(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "config"],
        env={"HUBBUB_CALLER_LIMIT": "many", "PATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "HUBBUB_CALLER_LIMIT" in done.stderr


@pytest.mark.parametrize("algorithm", ["EdDSA", "HS256"])
def test_keys_prints_lines_a_deployment_starts_with(tmp_path, algorithm: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "keys", "--algorithm", algorithm],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    environ = dict(line.split("=", 1) for line in done.stdout.splitlines())
    settings = Settings.from_env(
        {**environ, "GITHUB_CLIENT_ID": "Iv1.x", "GITHUB_CLIENT_SECRET": "s"}, env_file=None
    )
    assert settings.oauth_enabled
    assert settings.session_algorithm == algorithm
    assert len(settings.token_key_list) == 1


def test_dev_makes_keys_for_its_run_only_when_none_are_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("HUBBUB_SESSION_KEYS", "")  # unset, and restored after the test
    monkeypatch.setenv("HUBBUB_TOKEN_KEYS", "B" * 43 + "=")
    _dev_keys()
    settings = Settings.from_env()
    assert settings.session_key_list[0][0] == "dev"
    assert str(settings.token_keys) == "B" * 43 + "="  # what was set stays


def test_dev_starts_with_sign_in_configured_and_no_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Sign-in requires session keys: `hubbub dev` makes them before the settings that
    would refuse their absence are read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_CLIENT_ID", "Iv1.dev")
    monkeypatch.setenv("GITHUB_CLIENT_SECRET", "dev-secret")
    monkeypatch.setenv("HUBBUB_SESSION_KEYS", "")
    monkeypatch.setenv("HUBBUB_TOKEN_KEYS", "")
    monkeypatch.setenv("HUBBUB_DEMO_PAGE", "")  # recorded, so the test's value goes after
    monkeypatch.delenv("HUBBUB_DEMO_PAGE")
    started: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **options: started.append(options))
    monkeypatch.setattr("realtime.cli.configure_logging", lambda *args: None)
    arguments = build_parser().parse_args(["dev", "--no-reload"])
    arguments.handler(arguments)
    assert started, "hubbub dev did not start"
    settings = Settings.from_env()
    assert settings.oauth_enabled and settings.session_key_list[0][0] == "dev"
    assert settings.demo_page  # dev serves the dashboard


def test_serve_runs_websockets_as_the_fast_broadcast_path_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's default websocket deflate costs a fifth of a broadcast's CPU and rules
    out the direct write; `auto` is the sans-I/O implementation it was written for. The
    Docker image and Fly run `hubbub serve`, so they get the same."""
    import realtime.drain

    started: list[object] = []
    monkeypatch.setattr(realtime.drain.DrainingServer, "run", lambda self: started.append(self))
    monkeypatch.setattr("realtime.cli.configure_logging", lambda *args: None)
    arguments = build_parser().parse_args(["serve", "--port", "9999"])
    arguments.handler(arguments)
    [server] = started
    config = server.config  # type: ignore[attr-defined]
    assert config.ws == "auto"
    assert config.ws_per_message_deflate is False
    assert config.ws_ping_interval is None  # engine.io pings; uvicorn's would be extra CPU
    assert config.factory is True and config.port == 9999
