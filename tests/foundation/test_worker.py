from config.celery import app


def test_it_runs_a_real_worker_that_answers_over_the_broker(celery_worker):
    replies = app.control.ping(timeout=2)
    assert any(name.startswith("w1@") for reply in replies for name in reply)
    stats = app.control.inspect(timeout=2).stats() or {}
    conf = next(iter(stats.values()))
    assert conf["prefetch_count"] == 2  # concurrency 2 x prefetch multiplier 1
