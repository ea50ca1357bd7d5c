"""Every slidereel metric, registered once per process in prometheus_client's default
registry (the one Litestar's PrometheusController exposes)."""

from prometheus_client import Counter, Gauge, Histogram

# Set at scrape time (scrape.py): one grouped count query per scrape instead of work per request.
JOBS = Gauge("slidereel_jobs", "Render jobs in the database, by status", ["status"])
QUEUE_DEPTH = Gauge("slidereel_queue_depth", "PENDING render jobs: waiting for a renderer or for a retry")
RENDERS_IN_FLIGHT = Gauge("slidereel_renders_in_flight", "RUNNING render jobs")
WORKERS_ALIVE = Gauge("slidereel_renderer_workers_alive", "Renderer workers connected to the broker with live heartbeats")

WEBSOCKET_CLIENTS = Gauge("slidereel_websocket_clients", "Open render-progress WebSockets")

_MINUTES = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
RENDER_DURATION = Histogram(
    "slidereel_render_duration_seconds",
    "A job's time from its first attempt's start to its end, by final status",
    ["status"],
    buckets=_MINUTES,
)
STEP_DURATION = Histogram(
    "slidereel_render_step_duration_seconds",
    "Time a renderer spent on one completed step of an attempt",
    ["step"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)

BUS_MESSAGES = Counter(
    "slidereel_bus_messages", "Bus messages the API received and sent, by direction and type", ["direction", "type"]
)
OUTCOMES = Counter(
    "slidereel_outcomes",
    "Attempt outcomes workers reported, by the store's verdict "
    "(applied, duplicate: a resend, stale: not that worker's attempt or ended otherwise)",
    ["verdict"],
)
JOBS_WAITING_FOR_ENGINE = Gauge(
    "slidereel_jobs_waiting_for_engine", "PENDING jobs whose TTS engine no connected renderer offers", ["engine"]
)
BUS_DROPPED = Counter("slidereel_bus_messages_dropped", "Bus messages the API dropped, by reason", ["reason"])

WEBHOOK_DELIVERIES = Counter("slidereel_webhook_deliveries", "Webhook delivery tries, by result", ["result"])

STORE_OPERATIONS = Counter(
    "slidereel_store_operations",
    "Object-store operations this API process made (manifest, read, delete, list, check), by result (ok, error)",
    ["operation", "result"],
)

# TTS engines' work, from each attempt's outcome and each voice preview (metrics/tts.py).
TTS_CHARACTERS = Counter(
    "slidereel_tts_characters", "Characters sent to a TTS engine (cache hits excluded), by engine", ["engine"]
)
TTS_REQUESTS = Counter("slidereel_tts_requests", "Requests made of a TTS engine, by engine", ["engine"])
TTS_ERRORS = Counter(
    "slidereel_tts_errors",
    "Failed TTS requests, by engine and kind (rate_limited, server_error, timeout, auth, bad_audio, circuit_open, …)",
    ["engine", "kind"],
)
TTS_CACHE_HITS = Counter(
    "slidereel_tts_cache_hits", "Sentences served from the TTS cache instead of the engine, by engine", ["engine"]
)
