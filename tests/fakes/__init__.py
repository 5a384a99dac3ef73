"""Fake and embedded servers shared by tests and bench scripts (loopback or Unix sockets only, never the network)."""
