"""Providers, one package per system: the embedded demo world, log files on disk, and real systems."""
