"""`create_app()`: the Litestar application, its lifespan and its wiring."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from litestar import Litestar, Request, Router
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.security.jwt import Token
from litestar.types import ExceptionHandlersMap

from libs.contracts.voices import parse_aliases
from libs.logs import configure_logging
from libs.storage import AssetStore, store_of
from libs.tasks import cancel_and_wait
from libs.tokens import load_or_create_secret
from services.api.assets.controller import AssetFilesController
from services.api.auth.jwt import Caller, jwt_auth
from services.api.auth.tickets import WebSocketTicketController
from services.api.console.router import console_router
from services.api.console.webfont import WebFont, console_webfont
from services.api.db.engine import Database, open_database
from services.api.db.migrate import upgrade_to_head
from services.api.decks.controller import DeckController
from services.api.decks.importer import DeckImporter
from services.api.decks.records import DeckImports
from services.api.dispatch.broker import RenderBroker
from services.api.dispatch.job_state import JobStateService
from services.api.dispatch.role import DispatcherRole
from services.api.http_errors import EXCEPTION_HANDLERS
from services.api.jobs.controller import RenderJobController
from services.api.jobs.lifecycle import JobLifecycle
from services.api.jobs.reads import JobReads
from services.api.jobs.retry import attempt_timeout
from services.api.jobs.store import JobStore
from services.api.lexicon.controller import LexiconController
from services.api.media.controller import MediaController
from services.api.media.kinds import MediaIntake, largest_upload
from services.api.media.store import MediaStore
from services.api.metrics.instruments import STORE_OPERATIONS
from services.api.metrics.requests import http_metrics
from services.api.metrics.scrape import MetricsController
from services.api.openapi import finish_document
from services.api.ops.controller import OperationsController
from services.api.ops.health import HealthController
from services.api.ops.retention import sweep_periodically
from services.api.progress.fanout import ClusterFanout
from services.api.progress.publisher import EventPublisher
from services.api.progress.ws import BoundedSubscriber, render_progress
from services.api.scripts.controller import ScriptController
from services.api.scripts.store import ScriptStore
from services.api.security.connection_cap import WebSocketCapPerSubject
from services.api.security.cors import cors_config
from services.api.security.headers import security_headers
from services.api.security.origins import AssetOrigins
from services.api.security.rate_limit import write_rate_limit
from services.api.settings import Settings
from services.api.themes.controller import ThemeController
from services.api.uploads import BODY_LIMIT, MULTIPART_OVERHEAD_BYTES, BodyLimit
from services.api.videos.controller import VideoController
from services.api.voices.controller import VoiceController
from services.api.webhooks.delivery import WebhookSender
from services.api.webhooks.outbox import WebhookOutbox
from services.api.webhooks.signing import load_or_create_webhook_secret

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Runtime:
    """What the lifespan builds and the handlers receive by dependency injection."""

    db: Database
    scripts: ScriptStore
    jobs: JobStore
    reads: JobReads
    lifecycle: JobLifecycle
    publisher: EventPublisher
    dispatcher: DispatcherRole
    store: AssetStore
    media: MediaStore
    media_intake: MediaIntake
    decks: DeckImporter
    imports: DeckImports


def subject_of(request: Request[Caller, Token, State]) -> str:
    """`created_by`: the authenticated token's subject."""
    return request.user.subject


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format, service="api")
    settings.check_shared_secrets()
    webhook_key = load_or_create_webhook_secret(settings.webhook_secret, settings.data_dir)
    metrics = http_metrics()
    channels = ChannelsPlugin(
        backend=MemoryChannelsBackend(),
        arbitrary_channels_allowed=True,
        # A WebSocket client this many events behind is closed with a resume code, never
        # silently skipped ahead (progress/ws.py).
        subscriber_max_backlog=settings.ws_max_backlog,
        subscriber_class=BoundedSubscriber,
    )

    webfont = WebFont()
    # Opened here, before serving: a bad ASSET_STORE stops the start with its reason.
    store = store_of(settings, observe=lambda operation, result: STORE_OPERATIONS.labels(operation, result).inc())

    @asynccontextmanager
    async def runtime(app: Litestar) -> AsyncIterator[None]:
        webfont.start_building()
        settings.asset_dir.mkdir(parents=True, exist_ok=True)
        if settings.database_url is None:
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
        db = open_database(settings.sqlalchemy_url)
        await upgrade_to_head(db)
        jobs = JobStore(db)
        # Several instances may serve WebSockets: events cross between them through PostgreSQL.
        fanout = ClusterFanout(settings, channels) if settings.shared_job_table else None
        if fanout is not None:
            await fanout.start()
        publisher = EventPublisher(channels, settings, fanout)
        lifecycle = JobLifecycle(
            db,
            publisher.publish,
            max_attempts=settings.max_attempts,
            attempt_timeout=attempt_timeout(settings),
            outbox=WebhookOutbox(settings),
            voice_aliases=parse_aliases(settings.tts_voice_aliases),
        )
        dispatcher = DispatcherRole(
            settings, db, lambda: RenderBroker(settings, lambda broker: JobStateService(lifecycle, jobs, store, broker))
        )
        await dispatcher.start()
        sweeper = asyncio.create_task(sweep_periodically(db, settings, store), name="ttl-sweep")
        webhooks = asyncio.create_task(WebhookSender(db, webhook_key, settings.webhook_retry_base_sec).run(), name="webhooks")
        scripts, media, imports = ScriptStore(db), MediaStore(db, store), DeckImports(db)
        decks = DeckImporter(settings, scripts, media, imports)
        app.state.runtime = Runtime(
            db=db,
            scripts=scripts,
            jobs=jobs,
            reads=JobReads(jobs, settings),
            lifecycle=lifecycle,
            publisher=publisher,
            dispatcher=dispatcher,
            store=store,
            media=media,
            media_intake=MediaIntake(settings),
            decks=decks,
            imports=imports,
        )
        try:
            yield
        finally:
            await cancel_and_wait((sweeper, webhooks))
            await decks.stop()
            await dispatcher.stop()
            if fanout is not None:
                await fanout.stop()
            await db.dispose()

    def from_runtime(name: str) -> Provide:
        def provide(state: State) -> object:
            return getattr(state.runtime, name)

        return Provide(provide, sync_to_thread=False)

    api = Router(
        path="/api/v2",
        route_handlers=[
            ScriptController,
            RenderJobController,
            OperationsController,
            VideoController,
            WebSocketTicketController,
            LexiconController,
            VoiceController,
            ThemeController,
        ],
    )
    # Uploads are the bodies larger than MAX_BODY_BYTES; the handlers hold them to their own limits.
    uploads = [
        Router(
            path="/api/v2",
            route_handlers=[controller],
            request_max_body_size=limit.max_bytes + MULTIPART_OVERHEAD_BYTES,
            opt={BODY_LIMIT: limit},
        )
        for controller, limit in (
            (MediaController, largest_upload(settings)),
            (DeckController, BodyLimit(settings.deck_max_bytes, "DECK_MAX_BYTES")),
        )
    ]
    jwt_secret = load_or_create_secret(settings.jwt_secret, settings.data_dir)
    auth = jwt_auth(jwt_secret, public_schema=settings.public_schema)
    app = Litestar(
        on_app_init=[auth.on_app_init],
        route_handlers=[
            api,
            *uploads,
            AssetFilesController,
            HealthController,
            MetricsController,
            render_progress,
            console_webfont,
            console_router(),
        ],
        lifespan=[runtime],
        plugins=[channels],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "subject": Provide(subject_of, sync_to_thread=False),
            "webfont": Provide(lambda: webfont, sync_to_thread=False),
            "jwt_secret": Provide(lambda: jwt_secret, sync_to_thread=False),
            **{
                name: from_runtime(name)
                for name in (
                    "db",
                    "scripts",
                    "jobs",
                    "reads",
                    "lifecycle",
                    "publisher",
                    "dispatcher",
                    "store",
                    "media",
                    "media_intake",
                    "decks",
                    "imports",
                )
            },
        },
        # After authentication (JWTAuth puts its middleware first), so both can key by subject.
        middleware=[
            metrics.middleware,
            write_rate_limit(settings.rate_limit_writes_per_minute),
            WebSocketCapPerSubject(settings.ws_max_connections_per_subject),
        ],
        cors_config=cors_config(settings.cors_allowed_origins),
        before_send=[security_headers(AssetOrigins(settings.public_base_url, settings.cors_allowed_origins))],
        # http_errors.EXCEPTION_HANDLERS is an unannotated literal (status codes and exception types
        # to handlers of different signatures), inferred as dict[object, function]; it is the map
        # Litestar takes. Annotating it `ExceptionHandlersMap` there would make this cast redundant.
        exception_handlers=cast(ExceptionHandlersMap, EXCEPTION_HANDLERS),
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title="slidereel", version="2.0.0", path="/schema"),
        logging_config=None,
    )
    finish_document(app.openapi_schema)
    return app
