from collections.abc import Mapping
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt
from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, mixins, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from contacts.exports.csvfile import CSV_CONTENT_TYPE
from contacts.exports.errors import ExportLinkExpired, ExportLinkInvalid
from contacts.exports.links import export_link_verify
from contacts.exports.services import contact_export_create, export_job_cancel, export_job_create
from contacts.exports.storage import FILENAME_RE, export_file_open
from contacts.exports.workbook import XLSX_CONTENT_TYPE
from contacts.filters import ContactFilterSet
from contacts.models import Contact, ContactExport
from contacts.scoping import contact_accounts_of, contacts_scoped
from contacts.stats import TooManyGroups, contact_stats

from .authentication import BearerAuthentication
from .envelope import DATABASE_UNAVAILABLE_MSG, json_error
from .pagination import ContactPagination, PagePagination
from .permissions import CanExportContacts, CanRunExportJobs
from .serializers import (
    ContactSerializer,
    ExportJobAcceptedSerializer,
    ExportJobSerializer,
    ExportOptionsSerializer,
    ExportResultSerializer,
)
from .stats import TOO_MANY_GROUPS_MSG, StatsOptionsSerializer, StatsSerializer
from .throttles import LOGIN_THROTTLES, FirstRefusalThrottling, LoginAddressThrottle
from .tokens import RotatingRefreshSerializer


class LoginView(FirstRefusalThrottling, TokenObtainPairView):
    throttle_classes = list(LOGIN_THROTTLES)


class RefreshView(TokenRefreshView):
    serializer_class = RotatingRefreshSerializer
    throttle_classes = [LoginAddressThrottle]


class LogoutView(TokenBlacklistView):
    """Logout: the refresh token given is blacklisted; the access token in hand expires on its own."""

    throttle_classes = [LoginAddressThrottle]


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ContactFilterSet
    pagination_class = ContactPagination
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet:
        """Only the contacts of the caller's accounts: one outside them is a 404, as if it did not exist."""
        return contacts_scoped(queryset=super().get_queryset(), user=self.request.user)

    def get_serializer_context(self) -> dict:
        """The accounts a contact may be written into: the caller's (None: any)."""
        return {**super().get_serializer_context(), "accounts": contact_accounts_of(user=self.request.user)}

    def get_serializer(self, *args: object, **kwargs: object) -> ContactSerializer:
        """A JSON list in a create's body is a bulk create (ContactListSerializer)."""
        if self.action == "create" and isinstance(kwargs.get("data"), list):
            kwargs["many"] = True
        return super().get_serializer(*args, **kwargs)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The list's filters narrow the list and the export, not one contact asked for by id."""
        return queryset if self.detail else super().filter_queryset(queryset)

    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        permission_classes=[CanExportContacts],
        serializer_class=ExportResultSerializer,
    )
    def export(self, request: Request) -> Response:
        """Every contact the list would answer for the same filters, in its order, unpaged, in a workbook or
        a CSV file of the columns asked for."""
        filterset = DjangoFilterBackend().get_filterset(request, self.get_queryset(), self)
        options = _export_options_checked(filterset, request.query_params)
        export = contact_export_create(filterset=filterset, user=request.user, **options)
        return Response(self.get_serializer(export).data)

    @action(
        detail=False,
        methods=["get"],
        url_path="stats",
        serializer_class=StatsSerializer,
        # The admin's dashboard reads it with the admin's session; a GET changes nothing, so no CSRF token.
        authentication_classes=[BearerAuthentication, SessionAuthentication],
    )
    def stats(self, request: Request) -> Response:
        """The funnel (contacts, replied, WeChat exchanged) of what the list would answer for the same
        filters, in total and per day, week, month, worker or account."""
        filterset = DjangoFilterBackend().get_filterset(request, self.get_queryset(), self)
        options = _filters_and_options_checked(filterset, StatsOptionsSerializer(data=request.query_params))
        accounts = contact_accounts_of(user=request.user)
        try:
            stats = contact_stats(filterset=filterset, accounts=accounts, group_by=options["group_by"])
        except TooManyGroups as error:
            raise exceptions.ValidationError({"group_by": [TOO_MANY_GROUPS_MSG.format(count=error.count)]}) from None
        return Response(self.get_serializer(stats).data)


class ExportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Exports as jobs for the workers: accept one (202 at once), follow it, cancel it. The list is the
    caller's own exports; one of another user's is a 404 to everyone but superusers."""

    serializer_class = ExportJobSerializer
    pagination_class = PagePagination
    permission_classes = [CanRunExportJobs]
    http_method_names = ["get", "post", "delete", "head", "options"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet:
        exports = ContactExport.objects.all()
        if self.detail and self.request.user.is_superuser:
            return exports
        return exports.filter(user=self.request.user)

    def create(self, request: Request) -> Response:
        """The list's filters, from the JSON body or else the query string, validated as the list does;
        `format` and `columns` from the same place, as the synchronous export takes them."""
        asked = _asked_filters(request)
        contacts = contacts_scoped(queryset=Contact.objects.all(), user=request.user)
        filterset = ContactFilterSet(asked, queryset=contacts, request=request)
        options = _export_options_checked(filterset, asked)
        export = export_job_create(filterset=filterset, user=request.user, **options)
        return Response(ExportJobAcceptedSerializer(export, context=self.get_serializer_context()).data, status=202)

    def destroy(self, request: Request, pk: str) -> Response:
        """Cancel the job: 200 with it (a queued one reads cancelled at once, a running one within seconds);
        a finished one is a 409."""
        return Response(self.get_serializer(export_job_cancel(export=self.get_object())).data)


BODY_NOT_OBJECT_MSG = "请求体应为 JSON 对象,键为筛选参数"


def _filters_and_options_checked(filterset: ContactFilterSet, options: Serializer) -> dict[str, Any]:
    """The options' validated data, once both they and the filters are valid; else a 400 that names every
    bad parameter, the filters' first."""
    errors: dict[str, Any] = {}
    if not filterset.is_valid():
        errors.update(filter_utils.translate_validation(filterset.errors).detail)
    if not options.is_valid():
        errors.update(options.errors)
    if errors:
        raise exceptions.ValidationError(errors)
    return options.validated_data


def _export_options_checked(filterset: ContactFilterSet, asked: Mapping[str, str]) -> dict[str, Any]:
    """An export's `file_format` and `columns` from `asked` (see `_filters_and_options_checked`)."""
    options = _filters_and_options_checked(filterset, ExportOptionsSerializer(data=asked))
    return {"file_format": options["format"], "columns": options.get("columns", [])}


def _asked_filters(request: Request) -> QueryDict | dict[str, str]:
    """A job's filters: the body's when it has any (JSON or form), else the query string's. JSON numbers
    and booleans are read as the list's parameters write them (`1`, `true`)."""
    if not request.data:
        return request.query_params
    if not isinstance(request.data, Mapping):
        raise exceptions.ValidationError({"non_field_errors": [BODY_NOT_OBJECT_MSG]})
    asked = {}
    for name, value in request.data.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif value is None:
            value = ""
        elif not isinstance(value, str):
            raise exceptions.ValidationError({name: ["应为字符串、数字或布尔值"]})
        asked[name] = value
    return asked


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response | HttpResponse:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return json_error(503, DATABASE_UNAVAILABLE_MSG, {"database": "unavailable"})
        return Response({"database": "ok"})


# The download of a finished export through its signed link, served by the application itself. The link
# opens without an Authorization header (the frontend calls `window.open(download_url)`), so its
# signature is the whole of the access check.

DOWNLOAD_NOT_FOUND_MSG = "文件不存在或已被清理"
MISSING_SIGNATURE_MSG = "缺少下载签名,请使用导出接口返回的 download_url"
INVALID_SIGNATURE_MSG = "下载链接无效"
EXPIRED_SIGNATURE_MSG = "下载链接已过期,请重新导出"
DOWNLOAD_METHOD_MSG = "下载链接只支持 GET"


# Read-only: without the exemption a POST met the CSRF check (an HTML 403 page) before the 405.
@csrf_exempt
def export_download(request: HttpRequest, filename: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = json_error(405, DOWNLOAD_METHOD_MSG)
        response["Allow"] = "GET, HEAD"
        return response
    if not FILENAME_RE.fullmatch(filename):
        return json_error(404, DOWNLOAD_NOT_FOUND_MSG)
    signature = request.GET.get("signature")
    if not signature:
        return json_error(403, MISSING_SIGNATURE_MSG)
    try:
        export_link_verify(filename=filename, signature=signature)
    except ExportLinkExpired:
        return json_error(403, EXPIRED_SIGNATURE_MSG)
    except ExportLinkInvalid:
        return json_error(403, INVALID_SIGNATURE_MSG)
    try:
        handle = export_file_open(name=filename)
    except FileNotFoundError:
        return json_error(404, DOWNLOAD_NOT_FOUND_MSG)
    content_type = CSV_CONTENT_TYPE if filename.endswith(".csv") else XLSX_CONTENT_TYPE
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    if "Content-Length" not in response:  # a stream from object storage knows its size but cannot seek
        response["Content-Length"] = handle.size
    response["Cache-Control"] = "private, no-store"
    return response
