"""Compatibility layers for code written against older libraries."""
