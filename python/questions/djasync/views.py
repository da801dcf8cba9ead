"""Question 12's async views: one that only awaits, and two that call the
sync ORM through asgiref's sync_to_async — thread_sensitive=True (the
default, and what Django's own async ORM methods such as `aget` do) runs
every such call on ONE thread; thread_sensitive=False uses a pool."""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import Http404, HttpResponseBadRequest, JsonResponse

import lab_common
from django_app.models import User


# ANCHOR: wait
async def wait(request):
    ms = request.GET.get("ms", "")
    if not ms.isdigit() or int(ms) > lab_common.MAX_WAIT_MS:
        return HttpResponseBadRequest("ms must be an integer in 0..=10000")
    await asyncio.sleep(int(ms) / 1000)
    return JsonResponse({"waited_ms": int(ms)})
# ANCHOR_END: wait


def get_user(user_id):
    time.sleep(lab_common.DB_LATENCY)  # the round trip, as in chapter 6
    try:
        user = User.objects.get(id=user_id)
    except User.DoesNotExist:
        raise Http404("Not found.")
    return {"id": user.id, "email": user.email}


# ANCHOR: orm
async def user_thread_sensitive(request, user_id):
    return JsonResponse(await sync_to_async(get_user)(user_id))  # one thread


async def user_any_thread(request, user_id):
    row = await sync_to_async(get_user, thread_sensitive=False)(user_id)
    return JsonResponse(row)
# ANCHOR_END: orm


# ANCHOR: backend_pid
def backend_pid(request):
    """Question 13: which PostgreSQL backend (so: which connection) served
    this request. A new pid is a new connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return JsonResponse({"pid": pid})
# ANCHOR_END: backend_pid
