"""Fake servers shared by tests and bench scripts (they listen on 127.0.0.1 only, never the network)."""
