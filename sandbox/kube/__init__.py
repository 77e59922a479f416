"""The Kubernetes half of the sandbox: an API server, a watch hub and simulated controllers."""
