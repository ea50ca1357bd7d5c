"""Renders a script into a narrated slide video: TTS, slides, compose, subtitles, publish."""
