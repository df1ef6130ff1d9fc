"""snavc's version: keys the snapshot cache, so a new snavc never reads an old one."""

__version__ = "0.1.0"
