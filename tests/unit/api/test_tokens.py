"""The signing key and the `slidereel token` command."""

import stat
from datetime import timedelta

import pytest
from litestar.security.jwt import Token

from services.api.auth.roles import Role
from services.api.auth.tokens import ALGORITHM, SECRET_FILE, load_or_create_secret, mint
from services.cli.__main__ import main as slidereel


def test_generated_secret_is_private_and_stable(tmp_path):
    first = load_or_create_secret(None, tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and load_or_create_secret(None, tmp_path / "data") == first
    assert load_or_create_secret("configured", tmp_path / "data") == "configured"


def test_minted_token_carries_subject_role_and_expiry():
    token = Token.decode(mint("s" * 40, "alice", Role.EDITOR, timedelta(minutes=5)), "s" * 40, ALGORITHM)
    assert token.sub == "alice" and token.extras["role"] == "editor"


def test_token_command_signs_with_the_installation_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RENDER_JOB_DB_PATH", str(tmp_path / "data" / "render_jobs.db"))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert slidereel(["token", "--sub", "bob", "--role", "approver", "--ttl", "2h"]) == 0
    printed = capsys.readouterr().out.strip()
    token = Token.decode(printed, load_or_create_secret(None, tmp_path / "data"), ALGORITHM)
    assert token.sub == "bob" and token.extras["role"] == "approver"
    with pytest.raises(SystemExit):
        slidereel(["token", "--sub", "bob", "--role", "emperor"])
