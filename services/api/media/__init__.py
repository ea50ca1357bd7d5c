"""Images uploaded for slides: what is accepted, and how it is stored."""
