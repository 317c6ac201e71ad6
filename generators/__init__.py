"""The rendering side: turn ``data/`` into site pages. It reads data through ``evidence`` and
imports nothing of the harness (``tests/test_layers.py`` keeps it so); it starts nothing."""
