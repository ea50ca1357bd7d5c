"""Options every API command takes (--base-url, --token, --json), accepted before or after the
command name, and the API client they open."""

import argparse
import getpass
import os
from datetime import timedelta

from libs.tokens import Role
from services.cli.api import Api
from services.cli.errors import EXIT_CODES_HELP, CliError, ExitCode
from services.cli.token import existing_local_token

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
LOCAL_TOKEN_TTL = timedelta(minutes=30)


def common_options() -> argparse.ArgumentParser:
    """A parent parser for the top level and every command. Its defaults are SUPPRESS so that a
    command's copy of an option, left out, does not overwrite the value given before the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--base-url", default=argparse.SUPPRESS, help=f"the API's address (env SLIDEREEL_URL, default {DEFAULT_BASE_URL})"
    )
    common.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="bearer token (env SLIDEREEL_TOKEN; default: minted from this host's signing key, if any)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout instead of text"
    )
    return common


def add_command(
    commands: argparse._SubParsersAction, name: str, summary: str, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary[:1].upper() + summary[1:] + ".",
        parents=[common],
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def base_url(args: argparse.Namespace) -> str:
    return getattr(args, "base_url", None) or os.environ.get("SLIDEREEL_URL") or DEFAULT_BASE_URL


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "json", False)


def open_api(args: argparse.Namespace) -> Api:
    return Api(base_url(args), bearer_token(args))


def bearer_token(args: argparse.Namespace) -> str:
    """--token, else SLIDEREEL_TOKEN, else a short-lived approver token signed with this host's key
    (JWT_SECRET or the data dir's secret): on the API's own host an operator needs no token."""
    token = getattr(args, "token", None) or os.environ.get("SLIDEREEL_TOKEN")
    if token:
        return token
    token = existing_local_token(f"cli:{getpass.getuser()}", Role.APPROVER, LOCAL_TOKEN_TTL)
    if token is None:
        raise CliError(
            ExitCode.AUTH,
            "UNAUTHORIZED",
            "no token: pass --token or set SLIDEREEL_TOKEN (`slidereel token` on the API host mints one)",
        )
    return token
