"""citebot's HTTP API (`citebot serve`): JSON endpoints under /v1, an OpenAI-compatible chat endpoint and
one web page, over the library's public surface only (``from retrieval import ...``), like ``bot/``.

``app`` builds the FastAPI application, ``server`` runs it on uvicorn, ``cli`` registers ``serve`` and
``keys`` with the console script. Nothing in ``retrieval/`` imports this package.
"""
