import datetime as dt

from rest_framework import serializers

from contacts.filters import EARLIEST_DATE, LATEST_DATE
from contacts.models import Contact


def validate_storable_datetime(value: dt.datetime) -> None:
    """Keep date-times far enough from the calendar's ends to survive any time-zone shift."""
    if value is not None and not EARLIEST_DATE <= value.date() <= LATEST_DATE:
        raise serializers.ValidationError(f"时间应在 {EARLIEST_DATE} 与 {LATEST_DATE} 之间")


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "position",
            "contact",
            "reply_status",
            "wechat_exchanged",
            "account_id",
            "worker_id",
            "notes",
            "contacted_at",
            "created_at",
        ]
        extra_kwargs = {
            # PostgreSQL's integer column: SQLite would store more, so bound it alike on both.
            "account_id": {"max_value": 2_147_483_647},
            "contacted_at": {"validators": [validate_storable_datetime]},
            "created_at": {"validators": [validate_storable_datetime]},
        }
