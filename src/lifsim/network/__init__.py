"""Networks: populations, projections between them, and their connectivity."""
