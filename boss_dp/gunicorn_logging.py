"""gunicorn's logger without query strings in its error log.

gunicorn logs a request line it refuses (a client that sends `?search=张伟` unencoded) and the URI
of a request whose worker failed, query string included; search terms and phone numbers are
personal data.
"""

import logging
import re

from gunicorn.config import Config
from gunicorn.glogging import Logger

_QUERY = re.compile(r"\?.*?(?=\s+HTTP/|['\"]|$)")


def _without_query_strings(record: logging.LogRecord) -> bool:
    record.msg = _QUERY.sub("?…", record.getMessage())
    record.args = ()
    return True


class QuerylessLogger(Logger):
    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_without_query_strings)
