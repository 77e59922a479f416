"""WebSocket routes (wrapped by origin and session checks in config/asgi.py)."""

from django.urls import path

from dashboard.live import consumers

websocket_urlpatterns: list = [
    path("ws/services/<slug:name>/", consumers.ServiceConsumer.as_asgi()),
    path("ws/releases/<int:id>/", consumers.ReleaseConsumer.as_asgi()),
]
