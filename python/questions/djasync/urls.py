"""Chapter 6's DRF routes (sync APIViews: under ASGI Django runs each in
sync_to_async, one thread), and the async views of question 12."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("async/wait", views.wait),
    path("async/users/<int:user_id>", views.user_thread_sensitive),
    path("async/users-any-thread/<int:user_id>", views.user_any_thread),
    path("async/backend-pid", views.backend_pid),
    path("", include("django_app.urls")),
]
