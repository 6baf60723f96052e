"""The benchmark's endpoints, written the way a DRF project writes them."""
import json

from django.contrib.auth import authenticate, login
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication


class PublicView(APIView):
    """AllowAny with every default class, as restauth's /api/public/."""

    permission_classes = [AllowAny]

    def get(self, request):
        user = request.user
        authenticated = bool(user and user.is_authenticated)
        return Response(
            {
                "authenticated": authenticated,
                "username": user.get_username() if authenticated else None,
            }
        )


class ProfileView(APIView):
    """The seed's ProfileAPI: token authentication, authenticated users only."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.username, "email": request.user.email})


class JwtProfileView(ProfileView):
    authentication_classes = [JWTAuthentication]


class DashboardView(APIView):
    """The seed's DashboardAPI: default classes (the session first), authenticated users only."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(
            {"message": f"Hello {request.user.username}, welcome to your dashboard"}
        )


@require_GET
def csrf(request):
    """Sets the csrftoken cookie and returns a token for X-CSRFToken."""
    return JsonResponse({"csrfToken": get_token(request)})


@require_POST
def session_login(request):
    """JSON login for single-page apps; CSRF-checked by the middleware."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "JSON parse error"}, status=400)
    user = authenticate(
        request, username=data.get("username", ""), password=data.get("password", "")
    )
    if user is None:
        return JsonResponse(
            {"non_field_errors": ["Unable to log in with provided credentials."]},
            status=400,
        )
    login(request, user)
    return JsonResponse({"id": user.pk, "username": user.username, "email": user.email})
