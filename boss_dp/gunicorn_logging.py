"""gunicorn's logger: no query string in either log, and one line per message.

gunicorn logs a request line it refuses (a client that sends `?search=张伟` unencoded) and the URI
of a request whose worker failed, query string included; its access log's %(U)s is the decoded
path, in which an encoded `%3F` is a `?` again. Search terms and phone numbers are personal data.
And a path or header may carry a newline or a terminal's escape sequence, which would forge a
line or rewrite the screen of whoever reads the log.
"""

import logging
import re
from datetime import timedelta

from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response

from boss_dp.log import ValuelessTracebackFormatter, one_line

# A query string starts at the first `?`, or at an encoded one (`%3F`, `%253F`…) that decodes
# into a `?` in a logged path.
_QUERY_START = re.compile(r"\?|%(?:25)*3f", re.IGNORECASE)
_TRACEBACKS = ValuelessTracebackFormatter()


def without_query(text: str) -> str:
    """`text` up to its first `?` (or encoded `?`), then `?…`: whatever follows may be a query string.

    The cut runs to the end of the text, whatever quotes or spaces follow: a request line
    gunicorn refuses is quoted in the middle of a message, and may itself hold quotes and spaces.
    """
    start = _QUERY_START.search(text)
    return text if start is None else f"{text[: start.start()]}?…"


def _without_query_strings(record: logging.LogRecord) -> bool:
    record.msg = without_query(record.getMessage())
    record.args = ()
    return True


def _on_one_line(record: logging.LogRecord) -> bool:
    """The message escaped by `one_line`, and the traceback without exception messages.

    A filter rather than a formatter reaches every handler's formatter alike: logging formats
    the message from `msg` and uses a record's `exc_text` when it is set.
    """
    record.msg = one_line(record.getMessage())
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    return True


def _wsgi_text(value: str) -> str:
    """A WSGI string (bytes decoded as latin-1) as the UTF-8 text it carries, so that Chinese reads as Chinese."""
    try:
        return value.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # not a WSGI string
        return value


class QuerylessLogger(Logger):
    """gunicorn's logger with its lines made safe to keep and to read.

    The error log's messages end at their first `?`; the access log's atoms do the same, and the
    query string's own atoms are left out. Every message of both logs is on one line (control and
    format characters escaped), with tracebacks that name exceptions but withhold their messages.
    """

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        # setup runs again on a configuration reload; adding a filter twice keeps one.
        self.error_log.addFilter(_without_query_strings)
        self.error_log.addFilter(_on_one_line)
        self.access_log.addFilter(_on_one_line)

    def atoms(self, resp: Response, req: Request, environ: dict, request_time: timedelta) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = without_query(_wsgi_text(value))
        atoms["q"] = atoms["{query_string}e"] = "-"
        return atoms
