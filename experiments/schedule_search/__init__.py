"""Schedule search at equal compute: grid, random search, successive halving and PBT on the zoo's
MNIST-1D MLP, PBT's learned schedule replayed, and the short-horizon bias of LR meta-gradients on
Wu et al.'s noisy quadratic model (``python -m experiments.schedule_search --config quick``)."""
