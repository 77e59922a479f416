"""The admin-hosted pages (/admin/deployments/ and the Deployments section of the admin index):
views and their URLs, forms, and the helpers that format pages, history, metrics and charts.

Nothing here changes state; the views call dashboard.services for that."""
