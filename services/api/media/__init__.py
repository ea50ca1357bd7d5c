"""A video's uploaded media (images for slides, fonts and audio for its look): what is accepted, and how it is stored."""
