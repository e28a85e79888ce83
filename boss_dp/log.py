"""Log formatting: one line per message, and no personal data in tracebacks."""

import logging
import traceback
import unicodedata

# Control characters (Cc: newline, ESC…), line and paragraph separators, format characters (Cf:
# bidi overrides, zero-width joiners) and lone surrogates (Cs, which no log file can encode).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cf", "Cs"})


def one_line(text: str) -> str:
    """`text` with every character that could start a line or disguise one escaped, Python-style.

    A newline becomes `\\n`, ESC `\\x1b`, U+2028 `\\u2028`; printable text, Chinese included, stays
    as it is. A request's path or header logged through it cannot forge a log line or drive a
    terminal.
    """
    if text.isprintable():  # the common case, and no unsafe character is printable
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in _UNSAFE_CATEGORIES else char
        for char in text
    )


class ValuelessTracebackFormatter(logging.Formatter):
    """One line per message, and tracebacks with their frames but without exception messages.

    The message (with everything else the format puts on its line) is passed through `one_line`.
    A traceback keeps its own line breaks: it is built from code frames and exception types only.
    A database error's message quotes the row that failed (names, phone numbers); the type of
    each exception and where it was raised are what an operator needs.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))

    def formatException(self, exc_info) -> str:
        exc_type, exc, tb = exc_info
        lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb)]
        lines.append(f"{exc_type.__module__}.{exc_type.__qualname__} (message withheld)")
        cause = exc.__cause__ or exc.__context__ if exc is not None else None
        if cause is not None:
            lines.append(f"\n  caused by {type(cause).__module__}.{type(cause).__qualname__}")
        return "".join(lines)
