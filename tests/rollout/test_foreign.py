"""Foreign writes from plain Deployment JSON: a template the release did not make is one
(named by managedFields), a scale is not."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from dashboard.rollout import foreign

DEP = {
    "metadata": {"name": "api", "generation": 4, "annotations": {}, "managedFields": [
        {"manager": "deploy-dashboard", "operation": "Update", "time": "2026-01-01T10:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
             'k:{"name":"api"}': {"f:image": {}}}}}}}},
    ]},
    "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "api"}}, "spec": {
        "containers": [{"name": "api", "image": "repo@sha256:new", "env": []}]}}},
}


def wanted() -> str:
    return foreign.fingerprint(foreign.expected_template(DEP, "api", "repo@sha256:new"))


def test_the_release_own_template_is_not_a_foreign_write() -> None:
    assert foreign.foreign_write(DEP, wanted()) is None


def test_a_scale_or_a_pause_is_not_a_foreign_write() -> None:
    dep = copy.deepcopy(DEP)
    dep["spec"]["replicas"] = 5
    dep["spec"]["paused"] = True
    assert foreign.foreign_write(dep, wanted()) is None


def test_another_image_names_the_manager_and_the_fields() -> None:
    dep = copy.deepcopy(DEP)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "repo:foreign"
    dep["metadata"]["generation"] = 5
    dep["metadata"]["annotations"]["kubernetes.io/change-cause"] = "hotfix by bob"
    dep["metadata"]["managedFields"].append(
        {"manager": "kubectl-set", "operation": "Update", "time": "2026-01-01T10:05:00Z",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
             'k:{"name":"api"}': {"f:image": {}, "f:env": {}}}}}}}})
    found = foreign.foreign_write(dep, wanted(),
                                  since=datetime(2026, 1, 1, 10, 1, tzinfo=UTC))
    assert found is not None
    assert found.manager == "kubectl-set"
    assert found.fields == ["spec.template.spec.containers[api].image",
                            "spec.template.spec.containers[api].env"]
    assert found.generation == 5 and found.change_cause == "hotfix by bob"
    assert found.sentence("api").startswith("foreign_write: kubectl-set changed")


def test_without_managed_fields_the_writer_is_unknown_but_still_caught() -> None:
    dep = copy.deepcopy(DEP)
    dep["metadata"].pop("managedFields")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    found = foreign.foreign_write(dep, wanted())
    assert found is not None and found.manager == "an unknown writer"
