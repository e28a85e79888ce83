"""The JSON request bodies the API reads, within the service's limits.

The body's size is bounded before anything reads it (boss_dp/middleware.py); its nesting here.
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

JSON_MAX_DEPTH = 32
TOO_DEEP_MSG = f"JSON parse error - 嵌套超过 {JSON_MAX_DEPTH} 层"


def _nests_deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth == limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing with a 400 a body nested deeper than JSON_MAX_DEPTH.

    Python's parser recurses once per level: a body a few thousand levels deep raised
    RecursionError, which reached the client as a 500 and the log as a long traceback.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP_MSG) from None
        if _nests_deeper_than(data, JSON_MAX_DEPTH):
            raise ParseError(TOO_DEEP_MSG)
        return data
