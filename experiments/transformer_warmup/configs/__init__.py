"""Configs: smoke (the test), quick (minutes), default (the README), gpu (one H100, under 150 s)."""
