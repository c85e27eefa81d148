"""The library's error types: every one carries a one-line message a user can act on."""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is out of range or a combination is not allowed."""


class BudgetExceeded(ConfigError):
    """A job's estimated memory or time is over the limit; the message gives the estimate and the limit."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunFileError(ValueError):
    """A saved run (folder or zip) is missing a file or holds one that is malformed."""


class Cancelled(RuntimeError):
    """A job was stopped by its caller (raised from a progress callback)."""


class ConfigChecker:
    """Collects every failed check so the user sees all problems at once."""

    def __init__(self):
        self.problems: list[str] = []

    def __call__(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError("; ".join(self.problems))
