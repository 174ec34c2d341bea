"""``pairsim sweep``: variants of a recipe under one time budget, searched with Optuna (pairsim/train/sweep/runner.py)."""
