"""Renderers: values in, text out. They never recompute a grade."""
