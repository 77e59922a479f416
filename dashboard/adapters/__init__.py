"""Outside systems (Cloud Build + GCS logs, Kubernetes) behind small adapters.

Adapters take and return plain values (dicts of API JSON, dataclasses from .types) and
raise only AdapterError, whose `retryable` tells the caller whether to try again.
They never import dashboard.models.
"""

from .errors import AdapterError
from .types import BuildInfo, BuildSpec, StepInfo, UndoResult, image_ref

__all__ = ["AdapterError", "BuildInfo", "BuildSpec", "StepInfo", "UndoResult", "image_ref"]
