"""The corpus: the library's public entry point (``core.Corpus``) and the steps it delegates to.

``batching`` groups documents for one encode call and one transaction, ``neardup`` keeps the MinHash
signatures that catch a republished story, ``verify`` finishes a repair that must embed again.
"""
from .core import Corpus

__all__ = ["Corpus"]
