"""The routes, without trailing slashes so the paths match the other servers'.
An id that is not an integer does not match `<int:...>`: Django's 404."""

from django.urls import path

from . import views

urlpatterns = [
    path("hello", views.Hello.as_view()),
    path("api/simple", views.Simple.as_view()),
    path("api/serialize", views.Serialize.as_view()),
    path("wait", views.Wait.as_view()),
    path("cpu", views.Cpu.as_view()),
    path("users", views.CreateUser.as_view()),
    path("users/<int:user_id>", views.GetUser.as_view()),
]
