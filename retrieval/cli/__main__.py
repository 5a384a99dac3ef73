"""`python -m retrieval.cli`: the same as the `citebot` console script."""
import sys

from . import main

sys.exit(main())
