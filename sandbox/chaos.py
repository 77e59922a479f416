"""Fault injection shared by both sandbox APIs, set through POST /sandbox/v1/chaos."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class ApiChaos:
    error_rate: float = 0.0  # fraction of requests answered with an error status
    error_codes: tuple[int, ...] = (500,)
    latency_ms: int = 0  # added before every answer

    def pick_error(self, rng: random.Random) -> int | None:
        if self.error_rate > 0 and rng.random() < self.error_rate:
            return rng.choice(self.error_codes)
        return None


@dataclass
class Chaos:
    """`kube` and `cloudbuild` settings; the Kubernetes half also drops watches / expires RVs."""

    kube: ApiChaos = field(default_factory=ApiChaos)
    cloudbuild: ApiChaos = field(default_factory=lambda: ApiChaos(error_codes=(503, 504)))
    rng: random.Random = field(default_factory=random.Random)

    def for_api(self, api: str) -> ApiChaos:
        if api not in ("kube", "cloudbuild"):
            raise ValueError(f"unknown api {api!r}: expected 'kube' or 'cloudbuild'")
        return getattr(self, api)

    def reset(self) -> None:
        self.kube = ApiChaos()
        self.cloudbuild = ApiChaos(error_codes=(503, 504))
