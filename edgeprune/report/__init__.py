"""The curate report: HTML page and its plots."""
