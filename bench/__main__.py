"""`make bench` runs `python -m bench`: the speed benchmark (see bench/retrieval_speed.py)."""
from bench.retrieval_speed import main

raise SystemExit(main())
