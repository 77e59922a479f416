"""The entry points every caller uses: the admin pages, REST, Slack and the CLI call these
functions (never the pipeline directly) and map ServiceError to their own output.

Each checks input, permission and locks, writes its AuditEntry in the same transaction as the
change and publishes only after commit. What happens to a release afterwards is the release
pipeline's (dashboard.releases), which never imports this package.
"""

from dashboard.errors import (
    Conflict,
    InvalidRequest,
    Locked,
    NotAllowed,
    NotFound,
    SchemaChanged,
    ServiceError,
    Unavailable,
)
from dashboard.services.config import delete_cluster, delete_service, save_cluster, save_service
from dashboard.services.controls import (
    check_rollout_steps,
    lock_service,
    pause_service,
    resume_service,
    unlock_service,
)
from dashboard.services.podlogs import open_log, service_pods
from dashboard.services.releases import (
    cancel_release,
    continue_step,
    request_release,
    request_rollback,
    rollback_target,
    schema_changes,
    step_view,
    validate_image,
)
from dashboard.services.revisions import (
    Revision,
    request_rollback_to_revision,
    revisions,
    templates,
)

__all__ = [
    "Conflict",
    "InvalidRequest",
    "Locked",
    "NotAllowed",
    "NotFound",
    "Revision",
    "SchemaChanged",
    "ServiceError",
    "Unavailable",
    "cancel_release",
    "check_rollout_steps",
    "continue_step",
    "delete_cluster",
    "delete_service",
    "lock_service",
    "open_log",
    "pause_service",
    "request_release",
    "request_rollback",
    "request_rollback_to_revision",
    "resume_service",
    "revisions",
    "rollback_target",
    "save_cluster",
    "save_service",
    "schema_changes",
    "service_pods",
    "step_view",
    "templates",
    "unlock_service",
    "validate_image",
]
