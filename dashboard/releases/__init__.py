"""The release pipeline: everything that happens to a release after it was requested.

Lifecycle (states and the allowed moves: dashboard/states.py):

    awaiting a slot   queued --(the Service has no active release)--> building | migrating
                      | deploying
    building          Cloud Build builds the commit (or an earlier build's digest is reused)
    migrating         the pre-deploy Job (a deploy whose Service has a command; never a
                      rollback) runs the new image; a failure touches nothing in the cluster
    deploying         the Deployment gets the image; the rollout is judged like
                      `kubectl rollout status`, doomed pods fail it fast (krane's rules)
    verifying         the health path answers 200 N times in a row through the API server
    ends              succeeded | failed -> rolling_back -> rolled_back | cancelled | superseded

Modules, imports pointing one way (driver -> steps -> predeploy -> failing -> lifecycle):

    lifecycle.py  the only writer of release rows and the timeline: transition() (checks the
                  table, writes ReleaseEvent + AuditEntry in one transaction), save(),
                  record_event(); after commit, publish_on_commit() and enqueue_on_commit()
    steps.py      STEPS: the step run for each active state (build, roll_out, verify, roll_back)
    predeploy.py  migrate(), the step of `migrating`: the pre-deploy Job
    failing.py    fail(): gather the facts of a failure into the summary, fail (+ roll back)
    driver.py     advance(): claim the release (tick + lease), run its step, queue the next;
                  reconcile(): re-drive releases whose chain went quiet; cancel_build()

Requests enter through dashboard.services (permissions, locks, input); the Celery tasks in
dashboard/tasks.py call the driver. Nothing here imports either of them.
"""
