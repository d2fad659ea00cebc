"""Results -> one long pandas table -> comparison tables (and, with `dnnbench report`, plots and pages)."""
