"""Project URLs: the measurement views at the root, the tutorial polls under /polls/.

Every public path is also listed in ``endpoints.toml`` for the harness.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("demo.urls")),
    path("polls/", include("polls.urls")),
    path("admin/", admin.site.urls),
]
