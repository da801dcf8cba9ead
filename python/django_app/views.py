"""The views, the DRF way: `APIView` + `Response`, serializers for input and
output, and DRF's own error answers — 400 with {"detail": ...} for malformed
JSON (a ParseError), 400 with {"field": [messages]} for invalid input, 404
and 405 with {"detail": ...}. Only 413 is ours: DRF sets no body limit.

Every view is blocking: gunicorn's sync worker runs one request at a time per
process, gthread one per thread. Left out: authentication, pagination.
"""

import time

from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

import lab_common

from .models import User


class BodyTooLarge(APIException):
    status_code = 413
    default_detail = lab_common.BODY_TOO_LARGE


class WaitQuery(serializers.Serializer):
    ms = serializers.IntegerField(min_value=0, max_value=lab_common.MAX_WAIT_MS)


class CpuQuery(serializers.Serializer):
    us = serializers.IntegerField(min_value=0, max_value=lab_common.MAX_CPU_US)


class UserSerializer(serializers.ModelSerializer):
    # From the model: an EmailField (Django's validator) that must be unique.
    class Meta:
        model = User
        fields = ["id", "email"]


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


ROWS = lab_common.serialize_rows()


class Hello(APIView):
    def get(self, request):
        return Response({"message": "Hello, World!"})


# ANCHOR: simple
class Simple(APIView):
    def get(self, request):
        return Response({"message": "Hello World", "status": "success"})
# ANCHOR_END: simple


# ANCHOR: serialize
class Serialize(APIView):
    def get(self, request):
        # 10,000 dicts through a Serializer(many=True); JSONRenderer then
        # writes them with json.dumps.
        return Response(ItemSerializer(ROWS, many=True).data)
# ANCHOR_END: serialize


# ANCHOR: wait
class Wait(APIView):
    def get(self, request):
        query = WaitQuery(data=request.query_params)
        query.is_valid(raise_exception=True)  # else 400 {"ms": [...]}
        ms = query.validated_data["ms"]
        time.sleep(ms / 1000)  # this worker (or thread) serves nobody else meanwhile
        return Response({"waited_ms": ms})
# ANCHOR_END: wait


class Cpu(APIView):
    def get(self, request):
        query = CpuQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        us = query.validated_data["us"]
        lab_common.burn_cpu(us)
        return Response({"cpu_us": us})


# ANCHOR: users
class GetUser(APIView):
    def get(self, request, user_id):
        if lab_common.DB_LATENCY:
            time.sleep(lab_common.DB_LATENCY)  # the injected round trip
        user = User.objects.filter(pk=user_id).first()  # the ORM's one query
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return Response(UserSerializer(user).data)


class CreateUser(APIView):
    def post(self, request):
        if int(request.META.get("CONTENT_LENGTH") or 0) > lab_common.MAX_BODY_BYTES:
            raise BodyTooLarge()
        new = UserSerializer(data=request.data)  # malformed JSON: 400 ParseError
        new.is_valid(raise_exception=True)  # bad or taken e-mail: 400 {"email": [...]}
        if lab_common.DB_LATENCY:
            time.sleep(lab_common.DB_LATENCY)
        new.save()
        return Response(new.data, status=status.HTTP_201_CREATED)
# ANCHOR_END: users
