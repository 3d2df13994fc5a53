"""Quire's inference engines behind one protocol. Others import from `engine.api`, and build engines with
`engine.factory` (both cheap to import: no torch)."""
