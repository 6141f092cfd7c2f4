"""A tiny package for the worker, REPL and IPython examples: edit it while they run."""
