from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework_simplejwt.views import TokenObtainPairView

from . import views

urlpatterns = [
    path("api/public/", views.PublicView.as_view()),
    path("api/profile/", views.ProfileView.as_view()),
    path("api/jwt/profile/", views.JwtProfileView.as_view()),
    path("api/dashboard/", views.DashboardView.as_view()),
    path("api-token-auth/", obtain_auth_token),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/auth/csrf/", views.csrf),
    path("api/auth/login/", views.session_login),
]
