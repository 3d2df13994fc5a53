"""Quire's document analysis, usable without the web app; nothing here may import Django."""
