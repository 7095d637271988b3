"""The organisation without SQL: admin API and CLI create teams, reps and users; a token is
shown once, works at once, can expire and be revoked; only admins may manage."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

pytestmark = pytest.mark.stack


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_api_manages_teams_reps_and_users(services: Any, tokens: dict[str, str]) -> None:
    base, admin = services.base_url, auth(tokens["admin"])
    suffix = uuid.uuid4().hex[:6]
    team, rep = f"team-{suffix}", f"rep-{suffix}"
    assert (
        httpx.post(
            f"{base}/v1/admin/teams", json={"id": team, "name": "North"}, headers=admin
        ).status_code
        == 201
    )
    again = httpx.post(f"{base}/v1/admin/teams", json={"id": team, "name": "North"}, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
    r = httpx.post(
        f"{base}/v1/admin/reps", json={"id": rep, "name": "Rita", "team_id": team}, headers=admin
    )
    assert r.status_code == 201, r.text
    bad = httpx.post(f"{base}/v1/admin/reps", json={"id": "x y", "name": "n"}, headers=admin)
    assert bad.status_code == 422 and "id" in bad.text
    r = httpx.post(
        f"{base}/v1/admin/users",
        json={"name": f"u-{suffix}", "role": "user", "rep_id": rep},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith("cs_")
    listed = httpx.get(f"{base}/v1/admin/users", headers=admin).json()
    mine = next(u for u in listed if u["id"] == created["id"])
    assert "token" not in mine and token not in str(listed)
    assert httpx.get(f"{base}/v1/conversations", headers=auth(token)).status_code == 200
    assert httpx.get(f"{base}/v1/admin/users", headers=auth(token)).status_code == 403
    assert httpx.get(f"{base}/v1/admin/users", headers=auth(tokens["manager"])).status_code == 403
    missing = httpx.post(
        f"{base}/v1/admin/users", json={"name": "m", "role": "manager"}, headers=admin
    )
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "missing_team"
    revoked = httpx.post(f"{base}/v1/admin/users/{created['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()[0]["revoked_at"]
    r = httpx.get(f"{base}/v1/conversations", headers=auth(token))
    assert r.status_code == 401, "a revocation through the API takes effect at once"
    moved = httpx.patch(f"{base}/v1/admin/reps/{rep}", json={"team_id": "team-east"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["team_id"] == "team-east"


async def test_an_expired_token_no_longer_authenticates(
    services: Any, tokens: dict[str, str], sessions: Any
) -> None:
    from sqlalchemy import text

    r = httpx.post(
        f"{services.base_url}/v1/admin/users",
        json={"name": "short-lived", "role": "admin", "expires_in_days": 1},
        headers=auth(tokens["admin"]),
    )
    assert r.status_code == 201 and r.json()["expires_at"]
    async with sessions() as s, s.begin():
        await s.execute(
            text(
                "UPDATE api_credentials SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": uuid.UUID(r.json()["id"])},
        )
    r2 = httpx.get(f"{services.base_url}/v1/conversations", headers=auth(r.json()["token"]))
    assert r2.status_code == 401


def test_cli_adds_lists_and_revokes(endpoints: Any, services: Any) -> None:
    from callstream_cli import org as org_cli

    app = typer.Typer()
    db = endpoints.database_url.get_secret_value()
    org_cli.register(app, lambda: db, lambda: endpoints.redis_url)
    runner = CliRunner()
    suffix = uuid.uuid4().hex[:6]
    assert runner.invoke(app, ["teams", "add", f"cli-{suffix}", "--name", "CLI"]).exit_code == 0
    r = runner.invoke(app, ["reps", "add", f"cr-{suffix}", "--team", f"cli-{suffix}"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["users", "add", f"cu-{suffix}", "--role", "user", "--rep", f"cr-{suffix}"]
    )
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("cs_")
    ok = httpx.get(f"{services.base_url}/v1/conversations", headers=auth(token))
    assert ok.status_code == 200
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0 and token not in listed.output
    assert runner.invoke(app, ["users", "revoke", f"cu-{suffix}"]).exit_code == 0
    assert runner.invoke(app, ["users", "revoke", f"cu-{suffix}"]).exit_code == 1
    unknown = runner.invoke(app, ["reps", "add", f"x-{suffix}", "--team", "no-such-team"])
    assert unknown.exit_code == 1 and "unknown_team" in unknown.output
