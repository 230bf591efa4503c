"""Per-sample weightings against label noise (issue 18): MNIST-1D and sklearn digits."""
