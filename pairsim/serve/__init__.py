"""``pairsim serve``: an HTTP JSON API (FastAPI) and a small HTML page around a pair model."""
