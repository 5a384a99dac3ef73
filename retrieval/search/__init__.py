"""Search: hybrid retrieval over the store, dense and lexical candidates fused into one ranking.

``hybrid`` gathers the candidates (exact cosine for every one) and ``fusion`` combines the two lists.
"""
from .fusion import fuse_convex, fuse_rrf
from .hybrid import MODES, Scored, hybrid_search

__all__ = ["MODES", "Scored", "fuse_convex", "fuse_rrf", "hybrid_search"]
