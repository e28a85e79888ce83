"""The service's URLs plus `/bench/hello`, a DRF view that does no work: the ceiling of the stack."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boss_dp.urls import handler400, handler403, handler404, handler500  # noqa: F401
from boss_dp.urls import urlpatterns as service_urlpatterns


class HelloView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"hello": "world"})


urlpatterns = [path("bench/hello", HelloView.as_view()), *service_urlpatterns]
