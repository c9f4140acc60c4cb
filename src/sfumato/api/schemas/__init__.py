"""Leonardo's exact wire names live here and nowhere else."""
