"""Staff endpoints: a staff token (`Authorization: Bearer lst_...`) or a Django staff session."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from licenseapi import conf, services
from licenseapi.api import serializers as s
from licenseapi.api.auth import actor_of
from licenseapi.api.base import ERRORS, StaffView, certificate_for, validated
from licenseapi.models import License, LicenseStatus


class LicensePagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


def _staff_queryset() -> QuerySet[License]:
    return License.objects.select_related("product").with_seats_used(
        timezone.now(), conf.activation_ttl()
    )


class LicenseListCreateView(StaffView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c.value for c in LicenseStatus]),
            OpenApiParameter("product", str),
            OpenApiParameter("customer_email", str),
        ],
        responses={200: s.LicenseSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        """Licenses, newest first (filters: status, product, customer_email)."""
        qs = _staff_queryset()
        for param, lookup in (
            ("status", "status"),
            ("product", "product__slug"),
            ("customer_email", "customer_email__iexact"),
        ):
            if value := request.query_params.get(param):
                qs = qs.filter(**{lookup: value})
        page = LicensePagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(s.LicenseSerializer(rows, many=True).data)

    @extend_schema(
        request=s.LicenseCreateRequest, responses={201: s.LicenseCreatedSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        """Issue a license. The response is the only place the full key ever appears."""
        data = validated(s.LicenseCreateRequest, request)
        issued = services.issue_license(actor=actor_of(request), **data)
        lic = issued.license
        lic.seats_used = 0  # type: ignore[attr-defined]
        body = dict(s.LicenseSerializer(lic).data)
        body["key"] = issued.key
        return Response(body, status=status.HTTP_201_CREATED)


class LicenseDetailView(StaffView):
    @extend_schema(responses={200: s.LicenseSerializer, 404: s.ErrorResponse})
    def get(self, request: Request, license_id: str) -> Response:
        """One license with its recent change log."""
        lic = get_object_or_404(_staff_queryset(), pk=license_id)
        body = dict(s.LicenseSerializer(lic).data)
        body["changes"] = s.LicenseChangeSerializer(lic.changes.all()[:50], many=True).data
        return Response(body)


class LicenseActionView(StaffView):
    action_name = ""

    @extend_schema(
        request=s.StatusChangeRequest,
        responses={200: s.LicenseSerializer, 404: s.ErrorResponse, 409: s.ErrorResponse, **ERRORS},
    )
    def post(self, request: Request, license_id: str) -> Response:
        """suspend / reinstate / revoke (revoked is final)."""
        data = validated(s.StatusChangeRequest, request) if request.data else {"reason": ""}
        get_object_or_404(License, pk=license_id)
        services.change_status(
            license_id, self.action_name, actor_of(request), data.get("reason", "")
        )
        return Response(s.LicenseSerializer(_staff_queryset().get(pk=license_id)).data)


class StaffCertificateView(StaffView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="Signed certificate (JSON)"),
            403: s.ErrorResponse,
            404: s.ErrorResponse,
        }
    )
    def get(self, request: Request, license_id: str) -> Response:
        """The certificate of a license, for staff sending it to a customer."""
        lic = get_object_or_404(License.objects.select_related("product"), pk=license_id)
        return Response(certificate_for(lic))
