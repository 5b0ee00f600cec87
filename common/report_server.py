"""The HTML reports over http on 127.0.0.1, so the links in the Dagster UI open them (a file:// link does not
open from an http page).

    llama-pipeline reports                 # serves $LLAMA_DATA_DIR/reports on http://127.0.0.1:8787/
    report_url("data/reports/chat_eval/index.html")   # -> http://127.0.0.1:8787/chat_eval/index.html

The port is $LLAMA_REPORTS_PORT (default 8787): the assets write their links with it, and the server listens
on it. Loopback only; the server lists and sends files under the reports folder and nothing else (the
standard library's handler refuses paths that leave its directory).
"""
from __future__ import annotations

import functools
import http.server
import os
from pathlib import Path

DEFAULT_PORT = 8787
HOST = "127.0.0.1"


def port() -> int:
    text = os.environ.get("LLAMA_REPORTS_PORT") or str(DEFAULT_PORT)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"LLAMA_REPORTS_PORT={text!r} is not a port number")
    return int(text)


def report_url(html: str | Path) -> str | None:
    """The http URL of a file under a `reports/` folder (None when the path has no `reports` folder)."""
    parts = Path(html).resolve().parts
    if "reports" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("reports")
    return f"http://{HOST}:{port()}/" + "/".join(parts[i + 1:])


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def make_server(reports_dir: str | Path, listen_port: int | None = None) -> http.server.ThreadingHTTPServer:
    """A server of `reports_dir` on 127.0.0.1 (port 0: any free one); call serve_forever() on it."""
    handler = functools.partial(_Quiet, directory=str(Path(reports_dir).resolve()))
    return http.server.ThreadingHTTPServer((HOST, port() if listen_port is None else listen_port), handler)


def index_html(reports_dir: Path) -> list[str]:
    """The reports found, as paths relative to the folder (what `llama-pipeline reports` prints)."""
    return sorted(str(p.relative_to(reports_dir)) for p in reports_dir.glob("*/index.html"))
