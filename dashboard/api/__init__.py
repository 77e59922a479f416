"""The chatops REST API (/api/v1/), API tokens, idempotency records, Slack user mappings and
notification targets. Every state change goes through dashboard.services."""
