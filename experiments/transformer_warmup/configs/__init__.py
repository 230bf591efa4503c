"""Configs: smoke (the test), quick (minutes), default (questions 1 and 3-6), beta2 (question 2), gpu (one GPU)."""
