"""Renderers: each formats a ``Solution`` (symgrad.solve) in one format: text, JSON."""
