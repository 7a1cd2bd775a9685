"""Every error class the package raises, in one place, so a caller can catch them
without importing the module that raises them.

Public: :class:`ConfigError` (``exporter.ConfigError``), :class:`InvalidValue` (bad
arguments to ``record_request``; ``field`` names the argument), :class:`EventError` (a
sidecar event that fails its contract), :class:`DeliveryError` (a drop-in client's
payload refused or undelivered) and :class:`MultiprocessError`. The rest are answered by
the sidecar as a 4xx and never reach a user's code.
"""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A setting is missing, unknown or of the wrong type; the message names it."""


class InvalidValue(ValueError):
    """A value broke a rule; ``field`` names it, ``reason`` says what it must be."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


class EventError(InvalidValue):
    """An event failed validation; ``field`` is its JSON path, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.args = (f"{field}: {reason}",)

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class DeliveryError(RuntimeError):
    """The sidecar refused a payload (4xx: the message names the field) or could not be
    reached; the home-grown clients raised on an HTTP error too."""

    def __init__(self, status: int | None, reply: Any) -> None:
        super().__init__(f"sidecar answered {status}: {reply}" if status else str(reply))
        self.status = status
        self.reply = reply


class MultiprocessError(RuntimeError):
    """The directory is missing, not prepared, or belongs to another app instance."""


class ParamError(ValueError):
    """A query parameter is malformed or out of bounds; answered 400 naming it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class SourceError(RuntimeError):
    """The source could not answer (Prometheus unreachable, a query refused)."""


class TooLarge(Exception):
    """A body past max_body_bytes (answered 413)."""
