"""The users table, as the Rust apps and the FastAPI app use it."""

from django.db import models


class User(models.Model):
    email = models.EmailField(max_length=254, unique=True)

    class Meta:
        db_table = "users"
        managed = False  # created by lab_common (SQLite) or the PostgreSQL runner
