"""wacket: make a handful of machines work as one."""

__version__ = "0.1.0"
