"""Tests of the bridge to ServiceNav: CSV layouts, column maps, import, export, drift."""
