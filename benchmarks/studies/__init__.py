"""One-off studies: measurements behind a notebook or a design choice, not part of the README's results."""
