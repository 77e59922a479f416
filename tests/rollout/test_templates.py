"""What changed between two revisions' pod templates."""

from __future__ import annotations

from dashboard.rollout.templates import diff


def template(image="app@sha256:1", env=None, **extra):
    container = {"name": "api", "image": image, "env": env or [], **extra}
    return {"metadata": {"labels": {"pod-template-hash": "x"}}, "spec": {"containers": [container]}}


def test_it_lists_changed_images_env_and_resources_and_never_secret_values():
    before = template(env=[{"name": "MODE", "value": "a"}, {"name": "OLD", "value": "1"},
                           {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    after = template(image="app@sha256:2",
                     env=[{"name": "MODE", "value": "b"}, {"name": "NEW", "value": "2"},
                          {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}}],
                     resources={"limits": {"memory": "256Mi"}})
    changes = {what: (old, new) for what, old, new in diff(before, after)}
    assert changes["api image"] == ("app@sha256:1", "app@sha256:2")
    assert changes["api env MODE"] == ("a", "b")
    assert changes["api env OLD"] == ("1", "") and changes["api env NEW"] == ("", "2")
    assert changes["api env KEY"][1].startswith("from ") and "s2" in changes["api env KEY"][1]
    assert changes["api resources"] == ("", '{"limits": {"memory": "256Mi"}}')
    assert diff(before, before) == []
