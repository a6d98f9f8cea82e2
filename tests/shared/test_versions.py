"""Pinned-version checks say which package differs, and how."""

from __future__ import annotations

from importlib.metadata import version

from shared.versions import mismatch


def test_the_installed_versions_pass() -> None:
    assert mismatch({"uvicorn": version("uvicorn")}, "the direct answer") is None


def test_the_first_difference_is_named() -> None:
    pinned = {"uvicorn": version("uvicorn"), "starlette": "0.0.1", "httpx": "0.0.1"}
    installed = version("starlette")
    reason = mismatch(pinned, "the direct answer")
    assert reason == f"starlette is {installed}, the direct answer knows 0.0.1"


def test_a_missing_package_is_named() -> None:
    assert mismatch({"no-such-package-here": "1.0"}, "x") == "no-such-package-here is not installed"
