"""Google resource names the dashboard accepts (pure: no Django, no I/O).

GKE clusters are named `projects/PROJECT/locations/LOCATION/clusters/CLUSTER`. Images live in
Artifact Registry, `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE`, or under the older
`[REGION.]gcr.io/PROJECT/IMAGE` names, which Google still serves from Artifact Registry.
"""

from __future__ import annotations

import re

_PROJECT = r"(?:[a-z0-9-]+\.[a-z]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]"  # domain-scoped ids too
_PART = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
GKE_CLUSTER_RE = re.compile(
    rf"^projects/(?P<project>{_PROJECT})/locations/(?P<location>[a-z0-9-]+)"
    r"/clusters/(?P<cluster>[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)$")
AR_RE = re.compile(rf"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>{_PROJECT})"
                   rf"/(?P<repo>[a-z](?:[a-z0-9-]*[a-z0-9])?)/(?P<image>{_PART}(?:/{_PART})*)$")
GCR_RE = re.compile(rf"^(?:(?:us|eu|asia)\.)?gcr\.io/(?P<project>{_PROJECT})"
                    rf"/(?P<image>{_PART}(?:/{_PART})*)$")
GKE_CLUSTER_HELP = "projects/PROJECT/locations/LOCATION/clusters/CLUSTER"


def image_repository_error(value: str) -> str | None:
    """Why `value` is not an image repository name, or None when it is one."""
    if AR_RE.match(value) or GCR_RE.match(value):
        return None
    return ("use an Artifact Registry name, LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE "
            "(e.g. us-docker.pkg.dev/my-project/apps/license-api), or gcr.io/PROJECT/IMAGE; "
            "no tag or digest")


def gke_cluster_error(value: str) -> str | None:
    if GKE_CLUSTER_RE.match(value):
        return None
    return f"a GKE cluster name is {GKE_CLUSTER_HELP} (lower case), not {value!r}"
