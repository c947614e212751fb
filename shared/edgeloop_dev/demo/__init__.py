"""`edgeloop demo`: the whole closed loop against the simulated plant, with a live dashboard and a report."""
