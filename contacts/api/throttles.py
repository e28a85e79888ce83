"""Login throttles, counted in the shared cache so that the limit holds across workers.

The API's login (LoginView) and the admin's login (contacts.admin_site) both count their
attempts through `login_attempt_wait`, in the same cache entries: the limits are declared here once
and neither login can be used to get around the other.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from boss_dp.rates import rate_parse

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.views import APIView


class WindowRateThrottle(SimpleRateThrottle):
    """DRF's rates, and windows of several units too (`boss_dp.rates`): "10/min", "1/5s"."""

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        return (None, None) if rate is None else rate_parse(rate)


class LoginAddressThrottle(WindowRateThrottle):
    """Attempts per client address; X-Forwarded-For counts only through TRUSTED_PROXY_COUNT proxies."""

    scope = "login_address"

    def get_cache_key(self, request: Request | HttpRequest, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(WindowRateThrottle):
    """Attempts per username, whatever address they come from (password guessing from many hosts)."""

    scope = "login_username"

    def get_cache_key(self, request: Request | HttpRequest, view: APIView | None) -> str | None:
        data = request.data if isinstance(request, Request) else request.POST
        username = data.get("username") if hasattr(data, "get") else None
        # The login serializer takes a JSON number as its text (13800138000 logs in "13800138000").
        if isinstance(username, int | float) and not isinstance(username, bool):
            username = str(username)
        if not isinstance(username, str) or not username.strip():
            return None
        # The admin's login form reads the name in NFKC ("ａｄｍｉｎ" logs in "admin"), so the count does too.
        # Hashed so that the cache holds no user names.
        normalized = unicodedata.normalize("NFKC", username).strip().lower()
        digest = hashlib.sha256(normalized.encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


LOGIN_THROTTLES: tuple[type[SimpleRateThrottle], ...] = (LoginAddressThrottle, LoginUsernameThrottle)


def first_refusal_wait(
    throttles: Iterable[SimpleRateThrottle], request: Request | HttpRequest, view: APIView | None
) -> int | None:
    """Ask each throttle in turn: None when all allow the request, else the seconds to wait.

    Unlike DRF, stop at the first throttle that refuses: otherwise a refused attempt would still be
    recorded by the throttles after it, and a single address could fill the shared cache with new
    user names until the cache's culling evicts its own count.
    """
    for throttle in throttles:
        if not throttle.allow_request(request, view):
            wait = throttle.wait()
            # None when the rate was lowered below the attempts already counted: a whole window.
            return math.ceil(wait if wait is not None else throttle.duration)
    return None


def login_attempt_wait(request: Request | HttpRequest, view: APIView | None = None) -> int | None:
    """Count one login attempt against the per-address, then the per-username limit (see above)."""
    return first_refusal_wait((throttle_class() for throttle_class in LOGIN_THROTTLES), request, view)


class FirstRefusalThrottling:
    """A view mixin: stop at the first throttle that refuses (see `first_refusal_wait`)."""

    def check_throttles(self, request: Request) -> None:
        wait = first_refusal_wait(self.get_throttles(), request, self)
        if wait is not None:
            self.throttled(request, wait)
