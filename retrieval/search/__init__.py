"""Search: hybrid retrieval over the store, dense and lexical candidates fused into one ranking.

``hybrid`` gathers the candidates (exact cosine for every one) and ``fusion`` combines the two lists;
``results`` is what a search hands to the answer; ``further`` picks the passages worth showing after it.
"""
from .further import further_passages, relevance_floor
from .fusion import fuse_convex, fuse_rrf
from .hybrid import MODES, Scored, hybrid_search
from .results import Retrieval

__all__ = ["MODES", "Retrieval", "Scored", "further_passages", "fuse_convex", "fuse_rrf", "hybrid_search",
           "relevance_floor"]
