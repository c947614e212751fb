"""example_module: the runtime's worked example; scales numbers from one input to one output."""
