"""The `hubbub` command: help on every subcommand, and `config` with secrets masked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from realtime.cli import build_parser


@pytest.mark.parametrize("command", ["dev", "serve", "config"])
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
