"""The command line: one module per verb, thin over the Python API. Nothing imports this."""
