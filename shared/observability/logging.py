"""structlog configuration: JSON lines in production, readable lines on a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from shared.observability.redaction import redact_processor


class _CurrentStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is when a line is emitted, not when logging was set up.

    A redirected or captured stdout (tests, embedding) then never leaves a handler writing to a
    closed stream.
    """

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(*, level: str = "INFO", json: bool | None = None, service: str | None = None) -> None:
    """Route structlog and the stdlib loggers (aiokafka, FastStream, PyMongo) through one chain."""
    json = (not sys.stderr.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_processor,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Never render local variables: they hold payloads (prompts, identifiers) (rule 6).
            *(
                [structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))]
                if json
                else []
            ),
            renderer,
        ],
    )
    handler = _CurrentStdout()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel("WARNING")
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    """A structlog logger named after its module."""
    return structlog.get_logger(name)


@contextmanager
def bind_message(*, correlation_id: str | None, event_id: str | None, **extra: Any) -> Iterator[None]:
    """Bind the correlation and event ids of the message being processed to every log line."""
    # Tokens restore exactly what was bound before; `bound_contextvars` would copy every context
    # variable of the task for each message (issue 15: 6 % of a service's CPU under load).
    tokens = structlog.contextvars.bind_contextvars(correlation_id=correlation_id, event_id=event_id, **extra)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
