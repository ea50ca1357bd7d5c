"""The signing key, the tokens `libs.tokens` mints as the API reads them, and the `slidereel token` command."""

import asyncio
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar.security.jwt import Token

from libs.tokens import ALGORITHM, SECRET_FILE, Role, load_or_create_secret, mint
from services.api.auth.jwt import Caller, caller_from_token
from services.cli.__main__ import main as slidereel

SECRET = "s" * 40


def test_generated_secret_is_private_and_stable(tmp_path):
    first = load_or_create_secret(None, tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and load_or_create_secret(None, tmp_path / "data") == first
    assert load_or_create_secret("configured", tmp_path / "data") == "configured"


def test_minted_token_names_its_caller_to_the_api():
    token = Token.decode(mint(SECRET, "alice", Role.EDITOR, timedelta(minutes=5)), SECRET, ALGORITHM)
    assert asyncio.run(caller_from_token(token, None)) == Caller(subject="alice", role=Role.EDITOR)
    assert token.exp - token.iat == timedelta(minutes=5)


def test_minted_token_has_the_claims_of_a_litestar_token():
    """Tokens handed out before minting left Litestar keep working, and the new ones read alike."""
    ours = jwt.decode(mint(SECRET, "alice", Role.EDITOR, timedelta(minutes=5)), SECRET, [ALGORITHM])
    litestars = jwt.decode(
        Token(sub="alice", exp=datetime.now(UTC) + timedelta(minutes=5), extras={"role": "editor"}).encode(SECRET, ALGORITHM),
        SECRET,
        [ALGORITHM],
    )
    assert ours.keys() == litestars.keys() and ours["extras"] == litestars["extras"] == {"role": "editor"}


def test_token_command_signs_with_the_installation_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RENDER_JOB_DB_PATH", str(tmp_path / "data" / "render_jobs.db"))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert slidereel(["token", "--sub", "bob", "--role", "approver", "--ttl", "2h"]) == 0
    printed = capsys.readouterr().out.strip()
    token = Token.decode(printed, load_or_create_secret(None, tmp_path / "data"), ALGORITHM)
    assert token.sub == "bob" and token.extras["role"] == "approver"
    with pytest.raises(SystemExit):
        slidereel(["token", "--sub", "bob", "--role", "emperor"])
