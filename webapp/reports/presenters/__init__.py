"""What the report page draws, built from rows: read-only, no HTTP, everything rendered escaped by the templates."""
