"""Fault drills (`make drills`)."""
