"""Rendering compare's results: markdown and figures, from the JSON alone."""
