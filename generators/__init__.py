"""The rendering side: turn ``data/`` into site pages. Reads data only; starts nothing."""
