"""The book's Django + Django REST framework project: the same routes as the
FastAPI app, written the DRF way, served by gunicorn. See ../README.md."""
