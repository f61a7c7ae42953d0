"""The one error the progress layer raises for problems a learner has to act on."""

from __future__ import annotations


class ProgressError(Exception):
    """A progress file that cannot be used as it is, or a request it cannot honour.

    ``str(e)`` is a complete message for a person: it names the file and says what to do
    (move it aside, upgrade SageTutor, choose another file name). The TUI shows it as is and
    the CLI prints it to stderr, so callers never need to add context.
    """
