"""Settings and pipeline definitions: the bottom layer, importing nothing of Vivier's own."""
