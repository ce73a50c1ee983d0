"""Errors a user sees as one line: the cause and the fix, never a traceback."""


class CommandError(Exception):
    """A command could not do its work; the message names the cause and the fix."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
