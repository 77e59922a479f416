"""The chatops REST API (/api/v1/), API tokens and idempotency records, and the integrations
whose models live here: Slack (slash commands, user mappings) and outgoing notifications.
Every state change goes through dashboard.services."""
