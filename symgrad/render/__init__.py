"""Renderers: each formats a ``Solution`` (symgrad.solve) in one format: text, JSON, LaTeX, Markdown, pictures.

``chain_rule`` formats a ``Derivation`` alone: its symbolic chain rule, no numbers.
"""
