"""The WSGI callable gunicorn serves (`gunicorn django_app.wsgi`)."""

import os

import lab_common

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")
if not lab_common.IS_POSTGRES:
    lab_common.create_sqlite_schema()

from django.core.wsgi import get_wsgi_application  # noqa: E402 (after the settings)

application = get_wsgi_application()
