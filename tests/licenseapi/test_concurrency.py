"""The seat check holds under real concurrency (PostgreSQL row locks, real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from licenseapi import services
from licenseapi.models import Activation, Product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_it_gives_exactly_three_of_twenty_concurrent_activations_of_a_three_seat_license():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")
    product = Product.objects.create(slug="race", name="Race")
    issued = services.issue_license(product=product, actor="test", seats=3)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def activate(n: int) -> None:
        try:
            barrier.wait()
            services.activate(issued.key, f"machine-{n}", f"host-{n}")
            result = "ok"
        except services.SeatsExhausted:
            result = "full"
        except Exception as exc:  # any other failure is a bug the assertion below shows
            result = f"error: {exc!r}"
        finally:
            connection.close()  # each thread has its own connection; don't leak it
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=activate, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["full"] * 17 + ["ok"] * 3
    assert Activation.objects.filter(license=issued.license).count() == 3


def test_it_keeps_one_activation_when_one_machine_activates_concurrently():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    product = Product.objects.create(slug="race2", name="Race 2")
    issued = services.issue_license(product=product, actor="test", seats=3)
    barrier = threading.Barrier(10)
    created: list[bool] = []

    def activate() -> None:
        try:
            barrier.wait()
            created.append(services.activate(issued.key, "same-machine").created)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(created) == [False] * 9 + [True]
    assert Activation.objects.filter(license=issued.license).count() == 1
