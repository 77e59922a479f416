"""/chatops/slack/ (mounted by dashboard/urls.py:
path("chatops/slack/", include("dashboard.api.slack_urls")))."""

from django.urls import path

from dashboard.api import slack

urlpatterns = [
    path("commands", slack.commands, name="slack-commands"),
]
