"""Hyperparameters outside the optimizer, synchronised with the learning rate (issue 20)."""
