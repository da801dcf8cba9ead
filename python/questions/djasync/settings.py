"""Chapter 6's Django project served over ASGI (questions 12 and 13): the
same settings, plus async views under /async/. WW_CONN_MAX_AGE (seconds, or
"none" for forever) and WW_DJANGO_POOL=1 (Django 5.1+'s PostgreSQL pool,
psycopg-pool) are question 13's knobs.

    cd python && uvicorn questions.djasync.asgi:application --port 8000
"""

import os

from django_app.settings import *  # noqa: F401,F403
from django_app.settings import DATABASES

ROOT_URLCONF = "questions.djasync.urls"
ASGI_APPLICATION = "questions.djasync.asgi.application"

_age = os.environ.get("WW_CONN_MAX_AGE")
if _age is not None:
    DATABASES["default"]["CONN_MAX_AGE"] = None if _age == "none" else int(_age)
if os.environ.get("WW_DJANGO_POOL") == "1":
    # The pool needs CONN_MAX_AGE = 0: the pool, not Django, keeps them open.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 4}}
