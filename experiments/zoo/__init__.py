"""The schedule zoo: every learning-rate schedule family on the MNIST-1D reference
models, one compiled sweep per model, compared paired over seeds
(``python -m experiments.zoo --config quick``)."""
