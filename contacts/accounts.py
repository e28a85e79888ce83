"""A deactivated user's refresh tokens are blacklisted, so that reactivating the user revives none of them.

While a user is inactive every token of it is refused anyway (contacts/api/authentication.py); a
password change needs nothing here, as every token carries a digest of the password it was issued under.
"""

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


def user_refresh_tokens_revoke(*, user_id: int) -> int:
    """Blacklist every unexpired refresh token issued to the user; return how many were still usable."""
    usable = OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in usable], ignore_conflicts=True
    )
    return len(revoked)


def revoke_refresh_tokens_on_deactivation(sender: type[User], instance: User, raw: bool = False, **kwargs: Any) -> None:
    """A pre_save receiver: the save that deactivates a user blacklists its refresh tokens."""
    if raw or instance.pk is None or instance.is_active:
        return
    if User.objects.filter(pk=instance.pk, is_active=True).exists():
        user_refresh_tokens_revoke(user_id=instance.pk)
