"""The engine: inputs (load), the caches, the build (pipeline, incremental) and its outputs (emit)."""
