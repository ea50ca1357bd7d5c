"""Cloud TTS engines (Azure Speech, Google Cloud Text-to-Speech) over their REST APIs.

Plain `httpx` rather than the vendor SDKs: Azure's SDK is proprietary native code speaking a
websocket protocol nobody can fake in a test, Google's pulls in gRPC and google-auth for what is
one JSON POST; over REST both engines share one layer for retries, the circuit breaker, the
request rate cap and concurrency, and tests drive them against a local fake server.
"""
