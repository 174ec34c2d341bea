"""Training: the trainer, its step, checkpoints, optimisers, frozen-tower caches, post-hoc fits and processes."""
