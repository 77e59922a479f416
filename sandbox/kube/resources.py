"""The resource types the sandbox serves, used for routing and discovery."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = field(
        default=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    )

    @property
    def key(self) -> str:
        """Storage key; events.k8s.io events share core events' storage (see `storage_key`)."""
        return f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",)),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("status", "log", "proxy"), ("all",)),
    ResourceType("", "v1", "services", "Service", True, ("svc",), ("status", "proxy"), ("all",)),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType(
        "apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale"), ("all",)
    ),
    ResourceType(
        "apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale"), ("all",)
    ),
    ResourceType("batch", "v1", "jobs", "Job", True, (), ("status",), ("all",)),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                 "SelfSubjectAccessReview", False, verbs=("create",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
)

BY_PATH: dict[tuple[str, str, str], ResourceType] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}
BY_KIND: dict[tuple[str, str], ResourceType] = {}
for _r in RESOURCES:
    BY_KIND.setdefault((_r.api_version, _r.kind), _r)

GROUPS: dict[str, list[str]] = {}
for _r in RESOURCES:
    if _r.group and _r.version not in GROUPS.setdefault(_r.group, []):
        GROUPS[_r.group].append(_r.version)

DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]
REPLICASETS = BY_PATH[("apps", "v1", "replicasets")]
PODS = BY_PATH[("", "v1", "pods")]
EVENTS = BY_PATH[("", "v1", "events")]
SERVICES = BY_PATH[("", "v1", "services")]
ENDPOINTS = BY_PATH[("", "v1", "endpoints")]
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
NODES = BY_PATH[("", "v1", "nodes")]
SECRETS = BY_PATH[("", "v1", "secrets")]
NEW_EVENTS = BY_PATH[("events.k8s.io", "v1", "events")]
JOBS = BY_PATH[("batch", "v1", "jobs")]


def storage_key(rt: ResourceType) -> str:
    """events.k8s.io/v1 events are a view of core/v1 events, so both read one collection."""
    return EVENTS.key if rt is NEW_EVENTS else rt.key
