"""Scripts: what a video says and shows; DRAFT until approved, immutable after."""
