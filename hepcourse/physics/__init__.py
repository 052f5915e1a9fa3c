"""Physics helpers: toy models with exact densities (``toys``)."""
