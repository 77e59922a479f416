"""WebSocket routes (wrapped by origin and session checks in config/asgi.py)."""

from django.urls import path

websocket_urlpatterns: list = []
