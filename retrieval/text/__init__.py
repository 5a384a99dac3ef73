"""Text processing every other part shares: terms and stemming (``lexical``), sentences and passages
(``passages``), cleaning of stored and searched text (``cleaning``) and markup in pasted questions
(``questions``). Pure functions on strings: nothing here reads the store or loads a model.
"""
