"""Log setup: one JSON object a line in production, readable lines in development.

Records carry `request_id` and `github_request_id` when a stage passes them in `extra`,
so one line ties a caller's request to GitHub's. Nothing here ever formats a header
value or a body: callers log names and outcomes only.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Literal

_EXTRAS = (
    "request_id",
    "github_request_id",
    # Webhook deliveries: what may be logged about one (never headers or bodies).
    "event",
    "action",
    "delivery",
    "hook_id",
    "repository",
    "outcome",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRAS:
            value = getattr(record, name, None)
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} [{request_id}]" if request_id else text


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


# httpx logs every request URL at INFO (ours already say what matters, once, without query
# strings); Authlib logs the PKCE code verifier at DEBUG.
QUIET = ("httpx", "httpcore", "authlib")


def quiet_libraries() -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def uvicorn_log_config(level: str, fmt: Literal["json", "text"]) -> dict[str, object]:
    """uvicorn's own loggers, formatted like ours (passed as `log_config`)."""
    formatter = "shared.logging.JsonFormatter" if fmt == "json" else "shared.logging.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hubbub": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "hubbub",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
            "hubbub": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }
