"""Login throttles, counted in the shared cache so that the limit holds across workers."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class LoginAddressThrottle(SimpleRateThrottle):
    """Attempts per client address; X-Forwarded-For counts only through TRUSTED_PROXY_COUNT proxies."""

    scope = "login_address"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(SimpleRateThrottle):
    """Attempts per username, whatever address they come from (password guessing from many hosts)."""

    scope = "login_username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        # The login serializer takes a JSON number as its text (13800138000 logs in "13800138000").
        if isinstance(username, int | float) and not isinstance(username, bool):
            username = str(username)
        if not isinstance(username, str) or not username.strip():
            return None
        # Hashed so that the cache holds no user names.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class FirstRefusalThrottling:
    """A view mixin: stop at the first throttle that refuses, as DRF asks every throttle in turn.

    Otherwise a refused attempt would still be recorded by the throttles after the one that refused
    it, and a single address could fill the shared cache with new user names until the cache's
    culling evicts its own count.
    """

    def check_throttles(self, request: Request) -> None:
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
