"""In-repo stand-ins for GKE and Cloud Build that speak the real wire protocols.

`python -m sandbox` serves a Kubernetes API (with a simulated deployment controller and
kubelet) and a Cloud Build REST API (with an image registry and GCS-style logs).
"""
