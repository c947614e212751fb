"""upstream_router: priority classes, bandwidth budget, store-and-forward, Blob evidence for retraining."""
