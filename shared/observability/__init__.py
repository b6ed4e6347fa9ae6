"""Structured JSON logging with correlation ids and redaction of sensitive fields."""

from shared.observability.logging import bind_message, configure_logging, get_logger
from shared.observability.redaction import REDACTED, redact

__all__ = ["REDACTED", "bind_message", "configure_logging", "get_logger", "redact"]
