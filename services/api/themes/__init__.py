"""Themes (SPEC §8.3): a brand's look, named by scripts and snapshotted with each job."""
