"""Deck import: a PDF or PPTX becomes a DRAFT script of image scenes (issue 15)."""
