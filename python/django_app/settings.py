"""Django settings for the lab: one app (this package), DRF, and the database
chosen by WW_DATABASE (see lab_common.py): PostgreSQL through psycopg, or a
SQLite file. Everything else is as `django-admin startproject` makes it,
minus what a JSON API never uses (templates, static files, admin).

    cd python && gunicorn django_app.wsgi -k sync --workers 2 --bind 127.0.0.1:8000 --no-control-socket
"""

import os
from urllib.parse import unquote, urlsplit

import lab_common

SECRET_KEY = "waiting-well-lab-only-never-deployed"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "django_app.urls"
WSGI_APPLICATION = "django_app.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_app",
]

# startproject's middleware, as a typical DRF project keeps it; none of it
# touches the database for an anonymous request. WW_DJANGO_MIDDLEWARE=none
# drops it all (one of chapter 6's knobs).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if os.environ.get("WW_DJANGO_MIDDLEWARE") == "none":
    MIDDLEWARE = []


def _database() -> dict:
    if not lab_common.IS_POSTGRES:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": lab_common.DATABASE}
    dsn = urlsplit(lab_common.DATABASE)
    return {
        "ENGINE": "django.db.backends.postgresql",  # psycopg 3
        "NAME": dsn.path.lstrip("/"),
        "USER": unquote(dsn.username or ""),
        "PASSWORD": unquote(dsn.password or ""),
        "HOST": dsn.hostname or "",
        "PORT": str(dsn.port or ""),
    }


# CONN_MAX_AGE=None keeps each worker's (each thread's, under gthread)
# connection open for its whole life: "one connection per worker".
DATABASES = {"default": {**_database(), "CONN_MAX_AGE": None}}
