"""Corpora as text and ids: files, names and downloads, the character
vocabulary, the word tokenizer and vocabulary, streams and windows.
"""
