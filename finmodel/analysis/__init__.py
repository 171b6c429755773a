"""Analyses over batches of scenarios: sensitivity, goal seek, Monte Carlo, Sobol indices."""
