"""The only package both the API and the renderer import: script, bus messages, codes, bus timing."""
