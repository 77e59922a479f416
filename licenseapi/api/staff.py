"""Staff endpoints: a staff token (`Authorization: Bearer lst_...`) or a Django staff session."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from licenseapi import conf, services
from licenseapi.api import serializers as s
from licenseapi.api.auth import actor_of
from licenseapi.api.base import StaffView, certificate_for, validated
from licenseapi.api.errors import Unprocessable
from licenseapi.models import License, LicenseStatus, Product

STATUSES = [c.value for c in LicenseStatus]
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}


def _query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise exceptions.ValidationError({name: ["NUL is not allowed."]})
    return value


def _count(request: Request, name: str, minimum: int) -> int | None:
    raw = _query(request, name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise exceptions.ValidationError({name: [f"A whole number from {minimum}."]})
    return int(raw)


class LicensePagination(LimitOffsetPagination):
    """limit/offset, refused (400) when not whole numbers; DRF would silently ignore them."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request: Request) -> int:
        limit = _count(request, self.limit_query_param, 1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return _count(request, self.offset_query_param, 0) or 0


def _staff_queryset() -> QuerySet[License]:
    return License.objects.select_related("product").with_seats_used(
        timezone.now(), conf.activation_ttl()
    )


READ = ("read", "view_license")


class LicenseListCreateView(StaffView):
    access = {"GET": READ, "POST": ("issue", "add_license")}

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=STATUSES),
            OpenApiParameter("product", TEXT),
            OpenApiParameter("customer_email", TEXT),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                             description="page size (default 50; more than 500 returns 500)"),
            OpenApiParameter("offset", {"type": "integer", "minimum": 0}),
        ],
        responses={200: s.LicensePageSerializer},
    )
    def get(self, request: Request) -> Response:
        """Licenses, newest first (filters: status, product, customer_email)."""
        qs = _staff_queryset()
        state = _query(request, "status")
        if state is not None and state not in STATUSES:
            raise exceptions.ValidationError({"status": [f"One of {STATUSES}."]})
        for param, lookup in (
            ("status", "status"),
            ("product", "product__slug"),
            ("customer_email", "customer_email__iexact"),
        ):
            if (value := _query(request, param)) is not None:
                qs = qs.filter(**{lookup: value})
        page = LicensePagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(s.LicenseSerializer(rows, many=True).data)

    @extend_schema(request=s.LicenseCreateRequest, responses={201: s.LicenseCreatedSerializer},
                   examples=[OpenApiExample("a three-seat license", request_only=True, value={
                       "product": "acme-ide", "customer_name": "Ada Lovelace", "seats": 3,
                       "expires_at": None})])
    def post(self, request: Request) -> Response:
        """Issue a license. The response is the only place the full key ever appears."""
        data = validated(s.LicenseCreateRequest, request)
        # Well-formed (the schema allows it) but unusable: 422, naming the field.
        product = Product.objects.filter(slug=data["product"]).first()
        if product is None:
            raise Unprocessable({"product": [f"No product {data['product']!r}."]})
        data["product"] = product
        expires_at = data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise Unprocessable({"expires_at": ["must be in the future"]})
        issued = services.issue_license(actor=actor_of(request), **data)
        lic = issued.license
        lic.seats_used = 0  # type: ignore[attr-defined]
        body = dict(s.LicenseSerializer(lic).data)
        body["key"] = issued.key
        return Response(body, status=status.HTTP_201_CREATED)


class LicenseDetailView(StaffView):
    access = {"GET": READ}

    @extend_schema(responses={200: s.LicenseSerializer})
    def get(self, request: Request, license_id: str) -> Response:
        """One license with its recent change log."""
        lic = get_object_or_404(_staff_queryset(), pk=license_id)
        body = dict(s.LicenseSerializer(lic).data)
        body["changes"] = s.LicenseChangeSerializer(lic.changes.all()[:50], many=True).data
        return Response(body)


class LicenseActionView(StaffView):
    action_name = ""
    access = {"POST": ("manage", "change_license")}

    @extend_schema(
        request=s.StatusChangeRequest,
        responses={200: s.LicenseSerializer, 409: s.ErrorResponse},
    )
    def post(self, request: Request, license_id: str) -> Response:
        """suspend / reinstate / revoke (revoked is final)."""
        # No body is an empty object; a body that is not an object (even [] or 0) is a 400.
        data = validated(s.StatusChangeRequest, request)
        get_object_or_404(License, pk=license_id)
        services.change_status(
            license_id, self.action_name, actor_of(request), data.get("reason", "")
        )
        return Response(s.LicenseSerializer(_staff_queryset().get(pk=license_id)).data)


class StaffCertificateView(StaffView):
    access = {"GET": READ}

    @extend_schema(
        responses={
            200: OpenApiResponse(description="Signed certificate (JSON)"),
            403: s.ErrorResponse,
            503: s.ErrorResponse,
        }
    )
    def get(self, request: Request, license_id: str) -> Response:
        """The certificate of a license, for staff sending it to a customer."""
        lic = get_object_or_404(License.objects.select_related("product"), pk=license_id)
        return Response(certificate_for(lic))
