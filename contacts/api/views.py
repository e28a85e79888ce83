from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from contacts.exports import ExportFailed, ExportQuotaExceeded, contact_export_create, export_link_sign
from contacts.filters import DEFAULT_ORDERING, ContactFilterSet
from contacts.models import Contact
from contacts.workbook import ExportTooLarge

from .envelope import DATABASE_UNAVAILABLE_MSG, envelope
from .pagination import ContactPagination
from .permissions import CanExportContacts
from .serializers import ContactSerializer
from .throttles import LOGIN_THROTTLES, FirstRefusalThrottling, LoginAddressThrottle
from .tokens import RotatingRefreshSerializer


class ExportRefused(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "export_too_large"


class ExportQuotaRefused(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "export_quota"

    def __init__(self, detail: str, *, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


class ExportServerError(exceptions.APIException):
    default_detail = "导出失败,请稍后重试"
    default_code = "export_failed"


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

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The list's filters narrow the list and the export, not one contact asked for by id."""
        return queryset if self.detail else super().filter_queryset(queryset)

    @action(detail=False, methods=["get"], url_path="export", permission_classes=[CanExportContacts])
    def export(self, request: Request) -> Response:
        """Export every contact the list would answer for the same filters, in its order, unpaged.

        Answers `download_url` (signed, expiring after EXPORT_LINK_TTL_SECONDS), `filename`,
        `total_records` and `generated_at`; 400 when more than EXPORT_MAX_ROWS rows match.
        """
        queryset = self.filter_queryset(self.get_queryset())
        params = request.query_params
        filters = {
            name: params[name] for name in ContactFilterSet.base_filters if name != "ordering" and params.get(name)
        }
        try:
            export = contact_export_create(
                queryset=queryset,
                user=request.user,
                filters=filters,
                ordering=params.get("ordering") or DEFAULT_ORDERING,
            )
        except ExportTooLarge as exc:
            raise ExportRefused(
                f"符合条件的记录有 {exc.rows} 条,超过单次导出上限 {exc.limit} 条,请缩小日期范围后重试"
            ) from None
        except ExportQuotaExceeded as exc:
            raise ExportQuotaRefused(str(exc), wait=exc.retry_after) from None
        except ExportFailed:
            raise ExportServerError() from None
        return Response(
            {
                "download_url": request.build_absolute_uri(export_link_sign(filename=export.filename)),
                "filename": export.filename,
                "total_records": export.row_count,
                "generated_at": timezone.localtime(export.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            }
        )


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            code = status.HTTP_503_SERVICE_UNAVAILABLE
            return Response(envelope({"database": "unavailable"}, code=code, msg=DATABASE_UNAVAILABLE_MSG), status=code)
        return Response({"database": "ok"})
