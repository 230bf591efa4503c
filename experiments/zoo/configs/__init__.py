"""The zoo's configs: smoke (the test), quick (the main job), default (the README), gpu (one H100)."""
