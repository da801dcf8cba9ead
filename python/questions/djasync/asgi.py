"""The ASGI entry point: Django's ASGI handler, which has no lifespan."""

import os

from django.core.asgi import get_asgi_application

import lab_common

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "questions.djasync.settings")
if not lab_common.IS_POSTGRES:
    lab_common.create_sqlite_schema()  # as chapter 6's wsgi.py does
application = get_asgi_application()
