"""chaos_tap: a witness module that records what the pipeline's modules handed to the hub."""
