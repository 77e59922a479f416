"""Simulated cluster controllers: deployment, replicaset, scheduler + kubelet, garbage collector."""
