"""What text the service accepts from outside: the same rule for query parameters and written fields."""

import re

from django.core.exceptions import ValidationError

CONTROL_CHARACTER_MSG = "不能包含 NUL 等控制字符"
# The same rule as a pattern, for the OpenAPI document (tests hold the two together).
NO_CONTROL_CHARACTERS_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
# Unicode's category Cc is exactly U+0000-U+001F and U+007F-U+009F (its stability policy fixes the set).
CONTROL_CHARACTER_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_character(text: str) -> bool:
    """Category Cc (the C0 controls with NUL, DEL and the C1 controls), but tabs and line breaks, which are text."""
    return CONTROL_CHARACTER_RE.search(text) is not None


def validate_no_control_characters(value: str) -> None:
    if has_control_character(value):
        raise ValidationError(CONTROL_CHARACTER_MSG, code="control_character")
