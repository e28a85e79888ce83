from django.db import DatabaseError, connection
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from contacts.filters import ContactFilterSet
from contacts.models import Contact

from .envelope import DATABASE_UNAVAILABLE_MSG, envelope
from .pagination import ContactPagination
from .serializers import ContactSerializer
from .throttles import LoginAddressThrottle, LoginUsernameThrottle


class LoginView(TokenObtainPairView):
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]


class RefreshView(TokenRefreshView):
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
