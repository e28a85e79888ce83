"""Log formatting that keeps personal data out of tracebacks."""

import logging
import traceback


class ValuelessTracebackFormatter(logging.Formatter):
    """Tracebacks with their frames but without exception messages.

    A database error's message quotes the row that failed (names, phone numbers); the type of
    each exception and where it was raised are what an operator needs.
    """

    def formatException(self, exc_info) -> str:
        exc_type, exc, tb = exc_info
        lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb)]
        lines.append(f"{exc_type.__module__}.{exc_type.__qualname__} (message withheld)")
        cause = exc.__cause__ or exc.__context__ if exc is not None else None
        if cause is not None:
            lines.append(f"\n  caused by {type(cause).__module__}.{type(cause).__qualname__}")
        return "".join(lines)
