from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from contacts.backends import user_get_with_permissions

PASSWORD_CHANGED_MSG = "密码已修改,请重新登录"  # noqa: S105 - a message, not a password


def token_user_get(token: Token) -> User:
    """The user a token was issued to, with its permissions, if the token may still act for it.

    Raises AuthenticationFailed (a 401) when the user is gone or deactivated, or when its password is
    no longer the one the token was issued under: a password change, an unusable password set by an
    admin included, ends every token issued before it. Access and refresh tokens are checked alike.
    """
    try:
        user_id = int(token[api_settings.USER_ID_CLAIM])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken(_("Token contained no recognizable user identification")) from exc
    user = user_get_with_permissions(user_id=user_id)
    if user is None:
        raise AuthenticationFailed(_("User not found"), code="user_not_found")
    if not user.is_active:
        raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
    if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise AuthenticationFailed(PASSWORD_CHANGED_MSG, code="password_changed")
    return user


class BearerAuthentication(JWTAuthentication):
    """simplejwt's Bearer tokens, with the user and its permissions read in one query, not two."""

    def get_user(self, validated_token: Token) -> User:
        return token_user_get(validated_token)
