"""Coupled schedules and a plateau on a Flax NNX classifier (scikit-learn digits):
does scheduling b1 and weight decay with the learning rate change accuracy?
(``python -m experiments.coupled_schedules --config quick``)."""
