"""A video's pronunciation lexicon (SPEC §8.1): stored per video, snapshotted with each job."""
