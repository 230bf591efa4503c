"""Federated learning schedules (issue 19): see README.md."""
