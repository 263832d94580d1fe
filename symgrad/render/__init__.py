"""Renderers: each turns a derivation and its numbers into one format (text, JSON)."""
