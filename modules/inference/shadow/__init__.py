"""Shadow evaluation of candidate model versions against the active one."""
