"""`slidereel token`: mints a bearer token signed with this installation's key (JWT_SECRET,
or the secret generated into the data dir on the API's first start)."""

import argparse
import re
from datetime import timedelta

from libs.tokens import SECRET_FILE, Role, load_or_create_secret, mint
from services.api.settings import Settings

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("token", help="mint a bearer token for the API")
    parser.add_argument("--sub", required=True, help="the subject, recorded as created_by")
    parser.add_argument("--role", required=True, choices=[role.name.lower() for role in Role])
    parser.add_argument(
        "--ttl", type=parse_ttl, default=timedelta(hours=24), help="lifetime, e.g. 3600, 90m, 12h, 30d (default 24h)"
    )
    parser.set_defaults(run=run)


def parse_ttl(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2) or "s"])


def local_token(subject: str, role: Role, ttl: timedelta) -> str:
    settings = Settings()
    return mint(load_or_create_secret(settings.jwt_secret, settings.data_dir), subject, role, ttl)


def existing_local_token(subject: str, role: Role, ttl: timedelta) -> str | None:
    """Like `local_token`, but None where this host has no signing key yet: a client command
    must not create a key that no API uses."""
    settings = Settings()
    secret_file = settings.data_dir / SECRET_FILE
    if settings.jwt_secret is None and not secret_file.exists():
        return None
    return local_token(subject, role, ttl)


def run(args: argparse.Namespace) -> int:
    print(local_token(args.sub, Role.named(args.role), args.ttl))
    return 0
