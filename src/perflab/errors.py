"""The one exception tree of perflab.

::

    PerflabError                 base; carries an exit code and an optional hint
    ├── UsageError               bad flags, files or specs            -> exit 2
    ├── TargetError              the target or a service unreachable  -> exit 3
    ├── CheckFailed              a threshold, regression or SLO failed -> exit 1
    └── RunInterrupted           Ctrl-C; results so far are saved     -> exit 130

Per-request failures during a load test are *data* (counted by kind), never exceptions.
Library errors are translated at the boundary with ``raise X from exc``.
"""

from __future__ import annotations


class PerflabError(Exception):
    """Base of every error perflab raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message as the CLI prints it: one line, hint appended."""
        text = self.message.replace("\n", " ")
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(PerflabError):
    """Bad flags, files or specs: the user can fix it by changing the input."""

    exit_code = 2


class TargetError(PerflabError):
    """The target or a required service could not be reached."""

    exit_code = 3


class CheckFailed(PerflabError):
    """A threshold, regression or SLO check failed."""

    exit_code = 1


class RunInterrupted(PerflabError):
    """The run was interrupted; what was collected so far is saved."""

    exit_code = 130
