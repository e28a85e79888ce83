"""The API's OpenAPI 3.1 description, true to the wire (served by schema_views).

drf-spectacular reads the serializers, the FilterSet and the authentication; this module adds
what it cannot see: the {code, msg, data} envelope around every answer, the errors each
operation can give, the paging parameters, the exact formats the filters accept and the
date-time format the API writes.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenViewBase

from contacts.bulk import BULK_CREATE_MAX
from contacts.exports.csvfile import CSV_CONTENT_TYPE
from contacts.exports.storage import FILENAME_RE
from contacts.exports.workbook import XLSX_CONTENT_TYPE
from contacts.filters import (
    DAY_PATTERN,
    EARLIEST_DATE,
    LATEST_DATE,
    BooleanParamField,
    ContactFilterSet,
    DayField,
    TextParamField,
)
from contacts.imports.services import ERRORS_SHOWN as IMPORT_ERRORS_SHOWN
from contacts.stats import GROUPINGS
from contacts.validators import NO_CONTROL_CHARACTERS_PATTERN

from .envelope import DATABASE_UNAVAILABLE_MSG, SUCCESS
from .serializers import (
    COLUMNS_PATTERN,
    EXPORT_FORMATS,
    ExportJobAcceptedSerializer,
    ExportJobSerializer,
    ExportOptionsSerializer,
)
from .stats import StatsOptionsSerializer

API_DESCRIPTION = f"""联系记录服务的接口。

- 登录:`POST /api/auth/token` 取得 `access` 与 `refresh`;除 health、auth、schema 与导出文件下载外都要带
  `Authorization: Bearer <access>`。`access` 过期后用 `POST /api/auth/token/refresh` 换一对新的(旧的 `refresh`
  随即作废);`POST /api/auth/logout` 退出。修改密码或停用账号后,之前签发的 token 全部失效。
- 每个回答(成功或失败)都是 JSON `{{"code", "msg", "data"}}`,HTTP 状态码等于 `code`;成功时 `msg` 为
  `{SUCCESS}`。400 的 `msg` 指出参数与问题,`data` 按字段列出错误。不支持的方法一律 405。
- 查询参数的值为空(如 `start_date=`)与不传相同(导出的 `format`、`columns` 除外:给出就不能为空);未知参数被忽略。
- 时间按服务所在时区输出,格式 `YYYY-MM-DDTHH:MM:SS`(无时区、无小数)。
- 导出接口返回的 `download_url` 自带签名、限时有效,可直接 `window.open` 或用 `<a>` 下载,不需要登录头。
- 大批量导出用导出任务:`POST /api/contacts/exports` 立即返回 202,之后查看 `status_url` 的进度,完成后下载。
"""

# Date-times are written in the service's time zone without an offset, as the original document shows.
LOCAL_DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"

# The errors of the API: HTTP status -> (component name, description).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "请求参数错误:`msg` 指出参数与问题,`data` 按字段列出错误(请求体无法解析时为 null)。"),
    401: ("Unauthorized", "未登录,或 token 缺失、无效、过期;登录接口则是用户名或密码错误。"),
    403: ("Forbidden", "已登录但没有所需权限。"),
    404: ("NotFound", "记录或接口不存在。"),
    405: ("MethodNotAllowed", "接口不支持该请求方法。"),
    406: ("NotAcceptable", "`Accept` 要求的格式无法提供(接口只返回 JSON)。"),
    409: ("Conflict", "导出任务已结束(成功、失败或已取消),不能取消。"),
    413: (
        "PayloadTooLarge",
        "请求体超过上限(`REQUEST_BODY_MAX_BYTES`,默认 1 MiB;导入为 `IMPORT_MAX_BYTES` 加 64 KiB)。",
    ),
    415: ("UnsupportedMediaType", "请求体格式不受支持(可用 JSON、表单或 multipart)。"),
    429: (
        "TooManyRequests",
        "登录尝试过于频繁,或导出超过每人的并发或 24 小时次数上限;`Retry-After` 给出需等待的秒数。",
    ),
    500: ("ServerError", "服务器内部错误(详情只写入服务端日志)。"),
    503: ("ServiceUnavailable", "数据库暂时不可用,或导出任务队列暂时不可用,请稍后重试。"),
}

# Errors of particular operations, besides those every operation of their kind can give: the exports'
# per-user quota (429, contacts/exports/services.py), cancelling a finished job (409).
OPERATION_ERRORS = {
    "contacts_export_retrieve": {429},
    "contacts_exports_create": {429},
    "contacts_exports_destroy": {409},
}

OPERATIONS = {
    "auth_token_create": ("登录", "用户名和密码换取 `access`(放进 `Authorization: Bearer …`)与 `refresh`。不需登录。"),
    "auth_token_refresh_create": (
        "刷新 token",
        "用 `refresh` 换一对新的 `access` 与 `refresh`;旧的 `refresh` 随即作废,再用是 401。不需登录头。",
    ),
    "auth_logout_create": (
        "退出登录",
        "把给出的 `refresh` 加入黑名单,之后不能再用它刷新;手里的 `access` 到期自然失效。不需登录头。",
    ),
    "contacts_list": (
        "查询联系记录列表",
        "只含分配给当前用户的账号的记录(超级用户与有 `contacts.view_all_contacts` 权限者看到全部)。"
        "需要 `contacts.view_contact` 权限。未知参数被忽略。",
    ),
    "contacts_create": (
        "新增联系记录(单条或批量)",
        "Worker 上报新联系人:请求体为一个对象(单条,返回该记录),或 1–1000 个对象的 JSON 列表(批量,在一个事务中"
        "写入,按顺序返回创建的记录;任何一条有错则全部不写入,400 的 `data` 以下标列出每条出错记录的错误)。"
        "批量只接受 JSON。请求体最大 1 MiB。`account_id` 必须是分配给当前用户的账号,否则 400。"
        "需要 `contacts.add_contact` 权限。",
    ),
    "contacts_retrieve": (
        "查看一条联系记录",
        "不属于当前用户账号的记录返回 404。需要 `contacts.view_contact` 权限。",
    ),
    "contacts_partial_update": ("修改联系记录", "只改请求里给出的字段。需要 `contacts.change_contact` 权限。"),
    "contacts_export_retrieve": (
        "导出联系记录为 Excel 或 CSV",
        "筛选参数与列表相同(`page`、`page_size` 被忽略),不分页;`format` 选文件格式(默认 xlsx),`columns` "
        "选列及其顺序。返回限时有效的下载链接。需要 `contacts.view_contact` 与 `contacts.export_contact` 权限。",
    ),
    "contacts_stats_retrieve": (
        "联系漏斗统计",
        "筛选参数与列表相同(校验与 400 也相同),另有 `group_by`:`day`(默认)、`week`(ISO 周,周一开始)、`month`、"
        "`worker_id` 或 `account_id`。返回总计与各组的联系记录数、已回复数、回复率、已交换微信数、微信交换率"
        "(比率为 4 位小数,无记录时为 0)。天按服务时区、按 `created_at` 计,与列表的日期筛选一致;计数与列表的 `total` "
        "相同(同一候选人联系两次计两条)。时间分组列出范围内的每一期(没有记录的期间各项为 0),范围为所给日期,"
        "未给时为第一条到最后一条匹配记录所在的期间;按键排序。最多 1000 组,超过时 400,请缩小范围或用更粗的分组。"
        "只统计分配给当前用户的账号。需要 `contacts.view_contact` 权限;除 Bearer token 外也接受 Django admin 的"
        "登录会话(供 admin 统计面板使用)。",
    ),
    "contacts_exports_create": (
        "创建导出任务",
        "筛选参数与列表相同(查询字符串或 JSON 请求体,请求体优先),校验与 400 也相同;`format`、`columns` 与同步导出"
        "相同,取自同一处。立即返回 202 与任务 `id`、`status_url`,由后台 worker 生成文件。"
        "超过 `EXPORT_MAX_ROWS` 时 400。需要 `contacts.view_contact` 与 `contacts.export_contact` 权限。",
    ),
    "contacts_exports_list": ("我的导出", "当前用户自己的导出(任务与同步导出),新的在前,分页同列表。"),
    "contacts_exports_retrieve": (
        "查看导出任务",
        "状态(`queued`、`running`、`succeeded`、`failed`、`cancelled`)与进度;成功后给出与同步导出相同的 "
        "`download_url`、`filename`、`generated_at`(每次查看都重新签名),失败时给出 `error`。"
        "他人的任务返回 404(超级用户除外)。",
    ),
    "contacts_exports_destroy": (
        "取消导出任务",
        "排队中的任务立即取消;进行中的任务在几秒内停止(写文件的进程在两批记录之间检查),不留下文件。"
        "已结束的任务返回 409。",
    ),
    "contacts_import_create": (
        "导入联系记录(xlsx 或 csv)",
        "multipart 字段 `file` 上传与导出文件同样列名的 xlsx 或 csv(列的顺序、多少不限);有 `ID` 的行修改该记录给出的列,"
        "没有 `ID` 的行新建(此时 `姓名`、`账号 ID` 必填)。全部成功才写入:有任何错误时什么都不写,400 返回同样的报告。"
        "`dry_run=true` 只校验并报告,不写入。危险或无法读取的文件(非表格、加密或损坏的 xlsx、解压过大、XML 实体、"
        '超过 `IMPORT_MAX_BYTES` 或 `IMPORT_MAX_ROWS`)400,`data` 为 `{"file": [原因]}`。'
        "需要 `contacts.add_contact` 与 `contacts.change_contact` 权限。",
    ),
    "health_retrieve": ("健康检查", "数据库可用时 200,否则 503。不需登录。"),
    "schema_retrieve": ("OpenAPI 文档", "默认 JSON;`Accept: application/yaml` 时为 YAML。不需登录。"),
}


def _null() -> dict[str, Any]:
    return {"type": "null"}


def envelope_schema(data: dict[str, Any], *, code: int | None = None, success: bool = True) -> dict[str, Any]:
    """The {code, msg, data} object around `data`, with `code` fixed when the status is known."""
    code_schema: dict[str, Any] = {"type": "integer", "description": "等于 HTTP 状态码"}
    if code is not None:
        code_schema["enum"] = [code]
    msg_schema: dict[str, Any] = {"type": "string"}
    if success:
        msg_schema["enum"] = [SUCCESS]
    return {
        "type": "object",
        "properties": {"code": code_schema, "msg": msg_schema, "data": data},
        "required": ["code", "msg", "data"],
        "additionalProperties": False,
    }


def _field_errors_schema() -> dict[str, Any]:
    messages = {"type": "array", "items": {"type": "string"}}
    return {
        "oneOf": [
            {
                "type": "object",
                "description": "参数或字段名 → 错误说明列表;与单个字段无关的错误在 `non_field_errors`。"
                "批量新增时键为出错记录在列表中的下标(从 0 起),值为该条的字段错误。",
                "additionalProperties": {
                    "oneOf": [messages, {"type": "object", "additionalProperties": messages}],
                },
            },
            _null(),
        ]
    }


def error_response(code: int) -> dict[str, Any]:
    """The response object of one error status, as `components.responses` holds it."""
    _, description = ERRORS[code]
    data = _field_errors_schema() if code == 400 else _null()
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": envelope_schema(data, code=code, success=False)}},
    }
    if code == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "认证方式"}}
    if code == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "需等待的秒数"}}
    return response


def _error_ref(code: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{ERRORS[code][0]}"}


def filter_parameter_schema(field: forms.Field) -> dict[str, Any] | None:
    """The schema of one FilterSet parameter, read from the form field that validates it."""
    if isinstance(field, forms.ChoiceField):
        return {"type": "string", "enum": [str(value) for value, _ in field.choices if value != ""]}
    if isinstance(field, TextParamField):
        schema: dict[str, Any] = {"type": "string", "pattern": NO_CONTROL_CHARACTERS_PATTERN}
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        return schema
    if isinstance(field, BooleanParamField):
        return {"type": "boolean"}
    if isinstance(field, DayField):
        return {"type": "string", "format": "date", "pattern": DAY_PATTERN}
    if isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
        return schema
    return None


def filter_parameter(name: str, declared: Any) -> dict[str, Any] | None:
    """One FilterSet parameter as an OpenAPI query parameter, or None for a field this module cannot type."""
    schema = filter_parameter_schema(declared.field)
    if schema is None:
        return None
    parameter = {"in": "query", "name": name, "required": False, "allowEmptyValue": True, "schema": schema}
    if declared.extra.get("help_text"):
        parameter["description"] = declared.extra["help_text"]
    return parameter


class ContactFilterExtension(DjangoFilterExtension):
    """The FilterSet's parameters, typed from the form fields that validate them rather than guessed."""

    priority = 1

    def resolve_filter_field(
        self, auto_schema: AutoSchema, model: Any, filterset_class: Any, field_name: str, filter_field: Any
    ) -> list[dict[str, Any]]:
        parameter = filter_parameter(field_name, filter_field)
        if parameter is None:
            return super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        return [parameter]


def stats_group_by_parameter() -> dict[str, Any]:
    """`group_by` as a query parameter, as StatsOptionsSerializer validates it."""
    field = StatsOptionsSerializer().fields["group_by"]
    return {
        "name": "group_by",
        "in": "query",
        "required": False,
        "description": field.help_text,
        "schema": {"type": "string", "enum": list(GROUPINGS), "default": field.default},
    }


def export_option_parameters() -> list[dict[str, Any]]:
    """`format` and `columns` as query parameters, as ExportOptionsSerializer validates them."""
    fields = ExportOptionsSerializer().fields
    schemas = {
        "format": {"type": "string", "enum": list(EXPORT_FORMATS), "default": str(fields["format"].default)},
        "columns": {"type": "string", "pattern": COLUMNS_PATTERN},
    }
    return [
        {"in": "query", "name": name, "required": False, "description": str(fields[name].help_text), "schema": schema}
        for name, schema in schemas.items()
    ]


def job_filters_body() -> dict[str, Any]:
    """A job's filters as a JSON body: the list's parameters, each also as its JSON type, and the export's
    `format` and `columns`."""
    properties = {}
    for name, declared in ContactFilterSet.base_filters.items():
        parameter = filter_parameter(name, declared)
        schema = dict(parameter["schema"])
        if schema.get("type") != "string":  # booleans and integers come as JSON values or as the list's text
            schema = {"oneOf": [schema, {"type": "string"}]}
        properties[name] = {**schema, "description": parameter.get("description", "")}
    for parameter in export_option_parameters():
        properties[parameter["name"]] = {**parameter["schema"], "description": parameter["description"]}
    return {"type": "object", "properties": properties, "additionalProperties": True}


class ExportJobViewSetExtension(OpenApiViewExtension):
    """A job takes the list's filters (query string or body) and answers 202; a cancel answers the job."""

    target_class = "contacts.api.views.ExportJobViewSet"

    def view_replacement(self) -> type:
        parameters = [
            OpenApiParameter(
                parameter["name"],
                type=parameter["schema"],
                location=OpenApiParameter.QUERY,
                required=False,
                description=parameter.get("description", ""),
                allow_blank=True,
            )
            for parameter in [
                *(filter_parameter(name, declared) for name, declared in ContactFilterSet.base_filters.items()),
                *export_option_parameters(),
            ]
            if parameter is not None
        ]

        @extend_schema_view(
            create=extend_schema(
                parameters=parameters,
                request={"application/json": job_filters_body()},
                responses={202: OpenApiResponse(ExportJobAcceptedSerializer, description="已接受,排队中")},
            ),
            destroy=extend_schema(
                responses={200: OpenApiResponse(ExportJobSerializer, description="已取消或将很快取消")}
            ),
        )
        class DocumentedExportJobViewSet(self.target_class):
            pass

        return DocumentedExportJobViewSet


def import_report_schema() -> dict[str, Any]:
    """What an import did or would do (contacts/imports/services.py ImportReport)."""
    count = {"type": "integer", "minimum": 0}
    error = {
        "type": "object",
        "properties": {
            "row": {"type": "integer", "minimum": 1, "description": "表格中的行号,表头为第 1 行"},
            "column": {"type": "string", "description": "列名(与导出文件一致),或「第 N 列」"},
            "msg": {"type": "string"},
        },
        "required": ["row", "column", "msg"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "created": {**count, "description": "新建的行数"},
            "updated": {**count, "description": "有改动的行数"},
            "unchanged": {**count, "description": "与已存数据相同、未写入的行数"},
            "error_count": {**count, "description": "错误总数"},
            "errors": {
                "type": "array",
                "maxItems": IMPORT_ERRORS_SHOWN,
                "items": error,
                "description": "按行排列的前 100 个错误",
            },
        },
        "required": ["created", "updated", "unchanged", "error_count", "errors"],
        "additionalProperties": False,
    }


def import_request_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "xlsx 或 csv(UTF-8 可带 BOM,或 GB18030)"},
            "dry_run": {
                "type": "string",
                "enum": ["true", "false", "1", "0", ""],
                "description": "true 时只校验并报告,不写入(也可放在查询字符串)",
            },
        },
        "required": ["file"],
    }


class ContactImportViewExtension(OpenApiViewExtension):
    """The import takes a multipart file and answers its report, on success and (as 400) on row errors."""

    target_class = "contacts.api.imports.ContactImportView"

    def view_replacement(self) -> type:
        class DocumentedContactImportView(self.target_class):
            @extend_schema(
                operation_id="contacts_import_create",
                tags=["contacts"],
                request={"multipart/form-data": import_request_schema()},
                parameters=[
                    OpenApiParameter(
                        "dry_run",
                        type={"type": "string", "enum": ["true", "false", "1", "0", ""]},
                        location=OpenApiParameter.QUERY,
                        required=False,
                        description="true 时只校验并报告,不写入",
                    )
                ],
                responses={
                    200: OpenApiResponse(import_report_schema(), description="全部写入(或试运行没有错误)"),
                    400: OpenApiResponse(
                        {"oneOf": [import_report_schema(), _field_errors_schema()]},
                        description="有错误,什么都没有写入:`data` 为同样的报告;文件本身被拒绝"
                        '(或参数错误)时 `data` 为 `{"file": [原因]}`。',
                    ),
                },
            )
            def post(self, request: Request) -> Response:
                return super().post(request)

        return DocumentedContactImportView


class BearerAuthenticationScheme(SimpleJWTScheme):
    """The service's Bearer authentication is simplejwt's, documented as such."""

    target_class = "contacts.api.authentication.BearerAuthentication"


class LocalDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    """Date-times go out without an offset (so not RFC 3339) and come in as ISO 8601."""

    target_class = "rest_framework.fields.DateTimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        if direction == "response":
            return {
                "type": "string",
                "pattern": LOCAL_DATETIME_PATTERN,
                "description": "服务时区的本地时间 YYYY-MM-DDTHH:MM:SS",
                "examples": ["2024-03-01T10:30:00"],
            }
        schema = build_basic_type(OpenApiTypes.DATETIME)
        schema["description"] = f"ISO 8601;不带时区时按服务时区理解;{EARLIEST_DATE} 至 {LATEST_DATE} 之间"
        return schema


def download_path_item() -> dict[str, Any]:
    """The signed download link of an export: a plain Django view, so drf-spectacular cannot see it."""
    return {
        "get": {
            "operationId": "exports_download",
            "summary": "下载导出的文件(Excel 或 CSV)",
            "description": "打开导出接口返回的 `download_url`(`window.open` 或 `<a>`),不需登录头;签名即访问凭据。",
            "tags": ["contacts"],
            "security": [],
            "parameters": [
                {
                    "in": "path",
                    "name": "filename",
                    "required": True,
                    "schema": {"type": "string", "pattern": f"^{FILENAME_RE.pattern}$"},
                },
                {
                    "in": "query",
                    "name": "signature",
                    "required": True,
                    "description": "download_url 中的签名;缺少、被改动或过期时 403",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "导出文件(附件):`.xlsx` 为 Excel 工作簿,`.csv` 为带 BOM 的 UTF-8 CSV",
                    "headers": {
                        "Content-Disposition": {
                            "schema": {"type": "string"},
                            "description": 'attachment; filename="<filename>"',
                        }
                    },
                    "content": {
                        XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
                        CSV_CONTENT_TYPE.partition(";")[0]: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "403": {
                    "description": "缺少签名、签名无效或链接已过期(`msg` 说明是哪一种)。",
                    "content": {"application/json": {"schema": envelope_schema(_null(), code=403, success=False)}},
                },
                "404": {
                    "description": "不是导出文件名,或文件不存在、已被清理。",
                    "content": {"application/json": {"schema": envelope_schema(_null(), code=404, success=False)}},
                },
            },
        }
    }


def _database_state(state: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"database": {"type": "string", "enum": [state]}},
        "required": ["database"],
        "additionalProperties": False,
    }


class HealthViewExtension(OpenApiViewExtension):
    target_class = "contacts.api.views.HealthView"

    def view_replacement(self) -> type:
        class DocumentedHealthView(self.target_class):
            @extend_schema(
                responses={
                    200: OpenApiResponse(_database_state("ok"), description="数据库可用"),
                    503: OpenApiResponse(_database_state("unavailable"), description=DATABASE_UNAVAILABLE_MSG),
                },
            )
            def get(self, request: Request) -> Response:
                return super().get(request)

        return DocumentedHealthView


class LogoutViewExtension(OpenApiViewExtension):
    target_class = "contacts.api.views.LogoutView"

    def view_replacement(self) -> type:
        class DocumentedLogoutView(self.target_class):
            @extend_schema(
                responses=OpenApiResponse({"type": "object", "maxProperties": 0}, description="已退出"),
            )
            def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
                return super().post(request, *args, **kwargs)

        return DocumentedLogoutView


def _one_or_many(schema: dict[str, Any]) -> dict[str, Any]:
    many = {"type": "array", "items": schema, "minItems": 1, "maxItems": BULK_CREATE_MAX}
    return {"oneOf": [schema, many]}


def one_or_many_contacts(operation: dict[str, Any]) -> None:
    """A create takes one contact (an object) or a bulk of them (a JSON list), and answers alike."""
    json_body = operation["requestBody"]["content"]["application/json"]
    json_body["schema"] = _one_or_many(json_body["schema"])
    for media in operation["responses"]["201"].get("content", {}).values():
        media["schema"] = _one_or_many(media["schema"])


class EnvelopeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with every answer in the envelope and each operation's errors."""

    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        # drf-spectacular marks public operations with an optional `{}` requirement; they need none.
        return [] if {} in auths else auths

    def get_filter_backends(self) -> list[Any]:
        # The export filters exactly as the list does, though it answers one object, not a page.
        if self.method == "GET" and getattr(self.view, "detail", None) is False:
            return getattr(self.view, "filter_backends", [])
        return super().get_filter_backends()

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        operation["security"] = operation.get("security", [])
        if operation["operationId"] in OPERATIONS:
            operation["summary"], operation["description"] = OPERATIONS[operation["operationId"]]
        if operation["operationId"] == "contacts_export_retrieve":
            operation["parameters"] = [*operation.get("parameters", []), *export_option_parameters()]
        if operation["operationId"] == "contacts_stats_retrieve":
            operation["parameters"] = [*operation.get("parameters", []), stats_group_by_parameter()]
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("pattern") == "^[0-9]+$":
                parameter["schema"] = {"type": "integer", "minimum": 1}
        responses = operation["responses"]
        if operation["operationId"] == "contacts_create":
            one_or_many_contacts(operation)
        # The OpenAPI document itself is the one answer that is not wrapped.
        wrapped = {} if getattr(self.view, "serves_openapi_document", False) else responses
        for status_code, response in wrapped.items():
            response["description"] = response.get("description") or "成功"
            for media in response.get("content", {}).values():
                code = int(status_code)
                media["schema"] = envelope_schema(media["schema"], code=code, success=code < 400)
        for code in sorted(self.error_codes(operation)):
            responses.setdefault(str(code), _error_ref(code))
        return operation

    def error_codes(self, operation: dict[str, Any]) -> set[int]:
        """The error statuses this operation can answer with, besides any it declares itself."""
        codes = {406, 500}
        if not getattr(self.view, "serves_openapi_document", False):
            codes.add(503)
        if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
            codes.add(400)
        if operation.get("requestBody"):
            codes |= {413, 415}
        if operation["security"]:
            codes |= {401, 403}
        if isinstance(self.view, TokenViewBase):
            codes.add(401)
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            codes.add(404)
        if self.view.get_throttles():
            codes.add(429)
        return codes | OPERATION_ERRORS.get(operation["operationId"], set())


def postprocess_envelope_components(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Paths as the original document writes them (no trailing slash), and the shared error responses."""
    result["info"]["description"] = API_DESCRIPTION
    result["paths"] = {(path.rstrip("/") or "/"): copy.deepcopy(item) for path, item in result["paths"].items()}
    result["paths"]["/media/exports/{filename}"] = download_path_item()
    components = result.setdefault("components", {})
    components["responses"] = {name: error_response(code) for code, (name, _) in ERRORS.items()}
    for name, schema in components.get("schemas", {}).items():
        # Response bodies always carry every field; request bodies are the `…Request` components.
        if name.endswith("Request") or schema.get("type") != "object" or "properties" not in schema:
            continue
        schema["required"] = list(schema["properties"])
        schema["additionalProperties"] = False
    return result
