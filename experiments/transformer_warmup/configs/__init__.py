"""Configs: smoke (the test), quick, default (questions 1, 3-6), beta2 and beta2_low (question 2), gpu."""
