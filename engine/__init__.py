"""Quire's inference engines behind one protocol. Others import from `engine.api` only."""
