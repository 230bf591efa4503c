"""The zoo's configs: smoke (the test), quick (the main job), default (every family at the paper's budget),
anchor (the paper's protocol), gpu (one H100)."""
