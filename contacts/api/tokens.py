"""Refreshing a token pair: the refresh token is used up, its user checked as on every request."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from .authentication import token_user_get


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """A refresh token buys a new access token and a new refresh token, once.

    simplejwt's own refresh checks neither the password the token was issued under nor a user that no
    longer exists (a 500); here the user is checked as for every request. The old refresh token is
    blacklisted, and of two requests racing with one token only the first gets new tokens.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])
        user = token_user_get(refresh)
        _blacklisted, first_use = refresh.blacklist()
        if not first_use:
            raise InvalidToken(_("Token is blacklisted"))
        rotated = self.token_class.for_user(user)
        return {"access": str(rotated.access_token), "refresh": str(rotated)}
