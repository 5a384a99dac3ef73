"""Text processing every other part shares: terms and stemming (``lexical``), sentences and passages
(``passages``), cleaning of stored and searched text (``cleaning``), markup in pasted questions
(``questions``) and which alphabet a text uses (``scripts``). Pure functions on strings: nothing here
reads the store or loads a model.
"""
