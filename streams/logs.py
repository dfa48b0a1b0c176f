"""Structured logging: JSON lines in production, pretty output in a terminal.

``DISTILLGUARD_LOG_FORMAT=json|console`` forces a format; ``DISTILLGUARD_LOG_LEVEL`` sets the
level. Prompt text never reaches a log: events are logged by id, and a processor drops any key
named like prompt text unless ``log_prompts`` is set.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = frozenset({"prompt", "system_prompt", "messages_text", "raw", "payment_fingerprint"})
_configured = False
_allow_prompts = False


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not _allow_prompts:
        for key in _SECRET_KEYS.intersection(event):
            event[key] = "[redacted]"
    return event


class _Stderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write (not at configure time)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str | None = None, fmt: str | None = None, allow_prompts: bool = False) -> None:
    global _configured, _allow_prompts
    _allow_prompts = allow_prompts
    level_name = (level or os.environ.get("DISTILLGUARD_LOG_LEVEL", "INFO")).upper()
    fmt = fmt or os.environ.get("DISTILLGUARD_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True) if fmt == "console" else structlog.processors.JSONRenderer()
    )
    logging.basicConfig(level=getattr(logging, level_name, logging.INFO), stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    _configured = True


def where_raised(exc: BaseException) -> str:
    """``TypeName at file.py:line`` of the innermost frame, for logs and dead letters.

    No message and no values: an exception's message can quote the event (prompt text).
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}" if tb is not None else ""
    return f"{type(exc).__name__}{place}"


def get_logger(name: str) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name)
