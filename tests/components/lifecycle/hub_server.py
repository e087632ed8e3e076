"""A small Hugging Face Hub API on 127.0.0.1 for the publish tests: only the routes that
`HfApi.create_repo` and `HfApi.upload_folder` use with files uploaded inline (the
"regular" upload mode), and a bearer token check. The commits it receives are kept in
`repos` (repo id -> path -> bytes), so tests read back exactly what was sent."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

TOKEN = "hf_test_token"


@dataclass
class Hub:
    """What the server saw: repositories, their files, commits and every request path."""

    url: str = ""
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    private: dict[str, bool] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    validated: list[dict[str, Any]] = field(default_factory=list)
    """Card metadata blocks the README check accepted."""


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:
            hub.requests.append(f"POST {self.path}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"error": "Invalid credentials in Authorization header"})
                return
            body = self._body()
            if self.path == "/api/validate-yaml":
                self._validate(json.loads(body)["content"])
                return
            if self.path == "/api/repos/create":
                spec = json.loads(body)
                repo = (
                    f"{spec['organization']}/{spec['name']}"
                    if spec.get("organization")
                    else spec["name"]
                )
                if "/" not in repo:
                    repo = f"tester/{repo}"
                hub.repos.setdefault(repo, {})
                hub.private[repo] = bool(spec.get("private")) or spec.get("visibility") == "private"
                self._reply(200, {"url": f"{hub.url}/{repo}", "name": repo})
                return
            match = re.fullmatch(r"/api/models/(.+)/(preupload|commit)/([^/?]+)(\?.*)?", self.path)
            if not match or match.group(1) not in hub.repos:
                self._reply(404, {"error": f"Repository not found: {self.path}"})
                return
            repo, action = match.group(1), match.group(2)
            if action == "preupload":
                files = json.loads(body)["files"]
                self._reply(
                    200,
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ]
                    },
                )
                return
            header, added = {}, {}
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "header":
                    header = item["value"]
                elif item["key"] == "file":
                    added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                else:
                    self._reply(400, {"error": f"unsupported commit operation {item['key']}"})
                    return
            hub.repos[repo].update(added)
            oid = hashlib.sha1(body).hexdigest()  # noqa: S324 - a commit id, as git's
            hub.commits.append(
                {"repo": repo, "summary": header.get("summary"), "files": sorted(added)}
            )
            self._reply(200, {"commitUrl": f"{hub.url}/{repo}/commit/{oid}", "commitOid": oid})

        def _validate(self, content: str) -> None:
            """The hub's README metadata check: a YAML mapping between '---' lines."""
            match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
            if not match:
                self._reply(200, {"warnings": [{"message": "empty or missing yaml metadata"}]})
                return
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as err:
                self._reply(400, {"errors": [{"message": f"invalid YAML: {err}"}]})
                return
            if not isinstance(data, dict):
                self._reply(400, {"errors": [{"message": "metadata must be a YAML mapping"}]})
                return
            hub.validated.append(data)
            self._reply(200, {"warnings": []})

        def do_GET(self) -> None:
            hub.requests.append(f"GET {self.path}")
            self._reply(404, {"error": "not implemented here"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_hub() -> Iterator[Hub]:
    """The hub on a free port of 127.0.0.1 while the block runs."""
    hub = Hub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
