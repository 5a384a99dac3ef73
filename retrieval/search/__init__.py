"""Search: hybrid retrieval over the store, dense and lexical candidates fused into one ranking.

``hybrid`` gathers the candidates (exact cosine for every one) and ``fusion`` combines the two lists;
``results`` is what a search hands to the answer.
"""
from .fusion import fuse_convex, fuse_rrf
from .hybrid import MODES, Scored, hybrid_search
from .results import Retrieval

__all__ = ["MODES", "Retrieval", "Scored", "fuse_convex", "fuse_rrf", "hybrid_search"]
