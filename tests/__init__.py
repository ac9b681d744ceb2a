"""tingshu test suite: ``tests/unit`` needs no services, ``tests/integration`` starts real ones."""
