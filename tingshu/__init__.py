"""Command-line entry point and local launchers of tingshu (``python -m tingshu``)."""
