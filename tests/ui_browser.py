"""Headless Chromium driven over the DevTools protocol (websockets, which the webserver already depends on):
open a page, wait for what a user would see, click, take a screenshot.

    with Chromium(binary, profile_dir) as page:
        page.open("http://127.0.0.1:3000/assets/chat_eval")
        page.wait_for("document.body.innerText.includes('Show Markdown')")
        page.screenshot(Path("page.png"))
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import time
from pathlib import Path

from websockets.sync.client import connect


class Chromium:
    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 900):
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        browser_ws = self._devtools_url()
        page_id = None
        port = re.search(r":(\d+)/", browser_ws).group(1)
        deadline = time.monotonic() + 30
        while page_id is None and time.monotonic() < deadline:
            import urllib.request
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            page_id = pages[0]["webSocketDebuggerUrl"] if pages else None
            time.sleep(0.2)
        self._conn = connect(page_id, max_size=64 * 2 ** 20, open_timeout=30)
        self.ws = self._conn.__enter__()
        self.ids = itertools.count(1)
        self.send("Page.enable")

    def _devtools_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                return m.group(1)
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("Chromium did not start its DevTools endpoint")

    def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def eval(self, expression: str):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression!r} failed: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.eval(f"Boolean({expression})"):
                    return
            except RuntimeError:      # the page is still loading (no document.body yet)
                pass
            time.sleep(0.3)
        raise AssertionError(f"the page never showed: {expression}\n--- page text ---\n{self.text()[:3000]}")

    def text(self) -> str:
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def click_text(self, text: str) -> None:
        """Click the innermost element whose own text is `text` (a button or a link a user would click)."""
        found = self.eval("""(() => {
            const els = [...document.querySelectorAll('button, a, span, div')]
              .filter(e => e.textContent.trim() === %s);
            if (!els.length) return false;
            els[els.length - 1].click();
            return true; })()""" % json.dumps(text))
        if not found:
            raise AssertionError(f"nothing to click with the text {text!r}")

    def resize(self, width: int, height: int) -> None:
        """The viewport the page lays out in (a taller one fits a whole lineage graph unzoomed)."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            self._conn.__exit__(None, None, None)
        finally:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
