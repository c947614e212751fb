"""Developer tooling: local hub, supervisor, plant simulator, manifests, demo; never in a module image."""
