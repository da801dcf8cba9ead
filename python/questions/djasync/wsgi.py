"""The WSGI entry point with the same settings (question 13 under gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

import lab_common

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "questions.djasync.settings")
if not lab_common.IS_POSTGRES:
    lab_common.create_sqlite_schema()  # as chapter 6's wsgi.py does
application = get_wsgi_application()
