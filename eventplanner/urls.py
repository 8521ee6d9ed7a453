from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from eventplanner import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("fulfillment.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", include("planning.urls")),
]

admin.site.site_header = "eventplanner administration"
admin.site.site_title = "eventplanner"

handler500 = "eventplanner.views.server_error"
