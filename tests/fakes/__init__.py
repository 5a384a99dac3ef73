"""Fake and embedded servers shared by tests and bench (never the network: loopback or Unix sockets only)."""
