"""The study's configs: smoke (the test), quick, default (the README), gpu (one H100)."""
