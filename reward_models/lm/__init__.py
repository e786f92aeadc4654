"""Language models under the reward models: loading, named bases, released checkpoints, per-step log-probs and the
reference log-prob cache."""
