"""The stats endpoint's parameter (`group_by`) and answer, as serializers: the OpenAPI document reads them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.stats import GROUPINGS, MAX_GROUPS

from .serializers import PARAMETER_REPEATED_MSG

GROUP_BY_INVALID_MSG = "只能是 " + "、".join(GROUPINGS)
TOO_MANY_GROUPS_MSG = f"分组过多({{count}} 组,最多 {MAX_GROUPS} 组):请缩小日期范围,或改用更粗的分组(week 或 month)"


class StatsOptionsSerializer(serializers.Serializer):
    # Not a ChoiceField: from a query string DRF would take `group_by=` for "not given".
    group_by = serializers.CharField(
        default="day",
        allow_blank=True,
        trim_whitespace=False,
        help_text=(
            "分组:`day`(默认)、`week`(ISO 周,周一开始,键为周一的日期)、`month`(键为 `YYYY-MM`)、"
            f"`worker_id` 或 `account_id`。最多 {MAX_GROUPS} 组,超过时 400。"
        ),
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if hasattr(data, "getlist") and len(data.getlist("group_by")) > 1:
            raise serializers.ValidationError({"group_by": [PARAMETER_REPEATED_MSG]})
        return super().to_internal_value(data)

    def validate_group_by(self, value: str) -> str:
        if value not in GROUPINGS:
            raise serializers.ValidationError(GROUP_BY_INVALID_MSG)
        return value


class FunnelSerializer(serializers.Serializer):
    contacts = serializers.IntegerField(min_value=0, help_text="联系记录数(同一候选人联系两次计两条)")
    replied = serializers.IntegerField(min_value=0, help_text="其中已回复的")
    reply_rate = serializers.FloatField(
        min_value=0, max_value=1, help_text="回复率:replied / contacts,保留 4 位小数,无记录时为 0"
    )
    wechat_exchanged = serializers.IntegerField(min_value=0, help_text="其中已交换微信的")
    wechat_rate = serializers.FloatField(
        min_value=0, max_value=1, help_text="微信交换率:wechat_exchanged / contacts,保留 4 位小数,无记录时为 0"
    )


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class GroupKeyField(serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class StatsGroupSerializer(FunnelSerializer):
    key = GroupKeyField(
        help_text="分组键:日期 `YYYY-MM-DD`(周为该周周一)、月份 `YYYY-MM`、Worker ID(字符串)或账号 ID(整数)"
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"key": fields.pop("key"), **fields}


class StatsSerializer(serializers.Serializer):
    """联系漏斗统计:总计与各组;时间分组内没有记录的期间也列出(各项为 0),按键排序。"""

    group_by = serializers.ChoiceField(choices=GROUPINGS)
    totals = FunnelSerializer()
    results = StatsGroupSerializer(many=True)
