"""One error type for everything a user hands us: the CLI turns it into one message and exit code 2."""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input or a failed precondition, reported without a traceback.

    The message names where the problem is (file, line, field) and what was expected.
    """

    exit_code = 2

    def __init__(self, message: str, *, file=None, line: int | None = None, field: str | None = None,
                 expected: str | None = None):
        self.file, self.line, self.field, self.expected = file, line, field, expected
        where = []
        if file is not None:
            where.append(str(file) + (f":{line}" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        text = (": ".join([", ".join(where), message]) if where else message)
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class InputError(HarnessError):
    """A user-supplied file, argument or config is malformed."""
