"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python -m common.project.browser_check book/_build/html [--screenshots DIR]

Run by ``make book`` (so by ``make test`` and CI) after the build. The book is served on
``127.0.0.1`` by a server in this process; Chromium (Debian's package, ``.ci/install-chromium``)
runs headless with its background networking off, and every request that is not for that server
is refused and reported, so a page that needs the network fails. It is driven through the Chrome
DevTools protocol over a pipe (``--remote-debugging-pipe``): no driver binary, no extra package.

On every page:

- the math is rendered: MathJax (the pinned copy) finished, no ``mjx-merror``, no math element
  left as raw TeX, no ``\\(`` or ``\\[`` in the visible text outside code;
- every image loaded (lazy images are made eager first); no console error, no uncaught
  exception, no failed or external request; the page does not scroll sideways (wide equations
  scroll inside their block); the title carries no TeX;
- a chapter shows its claims table, one row per claim of its committed notebooks, every claim of
  ``paper.yml`` among them; a notebook page with a claims cell shows the compact table, and
  its Colab link is well formed, points at the pinned ref and at a notebook that exists.

Without Chromium the check is skipped with the reason (exit 0), unless ``REPRO_REQUIRE_BROWSER=1``
(CI), where that is a failure. Exit status 1 lists every problem.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["find_chromium", "Chromium", "check_pages", "main", "CHROMIUM_FLAGS"]

#: Flags for headless Chromium on a machine without network (and without a sandbox: containers).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                  "--disable-features=Translate,MediaRouter,OptimizationHints",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
VIEWPORT = (1280, 900)
PAGE_TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    """The Chromium binary: ``$REPRO_CHROMIUM``, else chromium / chromium-browser on PATH."""
    env = os.environ.get("REPRO_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(RuntimeError):
    """Chromium answered a DevTools command with an error, or did not answer in time."""


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (fd 3: commands in, fd 4:
    replies and events out, NUL-separated JSON)."""

    def __init__(self, binary: str):
        self._profile = tempfile.mkdtemp(prefix="repro-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # the child needs the pipes as fds 3 and 4: bash moves them there after Python's
        # fd handling (the originals are first moved above 9 so the redirections cannot clash)
        hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(out_w)
        args = [binary, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"]
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{hi_r} 4>&{hi_w} {hi_r}<&- {hi_w}>&-', "bash",
             *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(hi_r, hi_w))
        os.close(hi_r)
        os.close(hi_w)
        self._lock = threading.Lock()
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._out_r, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    msg = json.loads(raw)
                    if "id" in msg:
                        with self._cond:
                            self._replies[msg["id"]] = msg
                            self._cond.notify_all()
                    else:
                        self._events.put(msg)
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = PAGE_TIMEOUT_S, wait: bool = True) -> dict:
        """Send a command and wait for its result (``wait=False``: do not wait)."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            msg = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            data = json.dumps(msg).encode() + b"\0"
            while data:
                data = data[os.write(self._cmd_w, data):]
        if not wait:
            return {}
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise CDPError(f"{method}: no answer from Chromium")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def events(self, timeout: float = 0.0):
        """Events received so far (waiting up to ``timeout`` for the first one)."""
        out = []
        try:
            out.append(self._events.get(timeout=timeout) if timeout else self._events.get_nowait())
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            pass
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w,):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log on the terminal
        pass


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# What a page reports about itself once MathJax is done (run in the page).
_PROBE = r"""
(async () => {
  if (!document.body) return {redirect: true};
  document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  let mathjax = null;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    mathjax = MathJax.version;
  }
  const rawMath = [...document.querySelectorAll('.math')].filter(
      el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 80));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const rawText = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('pre, code, script, style, mjx-container, textarea, .math'))
      continue;
    if (/\\\(|\\\[|\$\$/.test(n.textContent)) rawText.push(n.textContent.trim().slice(0, 80));
  }
  const article = document.querySelector('article') || document.body;
  const right = article.getBoundingClientRect().right + 1;
  const wide = [...document.querySelectorAll('mjx-container[display="true"]')].filter(el => {
    const box = el.getBoundingClientRect();
    const ox = getComputedStyle(el).overflowX;
    return box.right > right && !(ox === 'auto' || ox === 'scroll');
  }).length;
  const claims = [...document.querySelectorAll('table.claims')].map(t => ({
    rows: t.querySelectorAll('tbody > tr').length,
    ids: [...t.querySelectorAll('tbody > tr summary strong')].map(s => s.textContent.trim()),
    oneLine: [...t.querySelectorAll('tbody > tr')].every(
        r => r.getBoundingClientRect().height < 60),
  }));
  return {
    title: document.title,
    mathjax, containers: document.querySelectorAll('mjx-container').length,
    merrors: [...document.querySelectorAll('mjx-merror')].map(
        e => (e.getAttribute('data-mjx-error') || e.textContent || '').slice(0, 120)),
    rawMath, rawText,
    images: document.images.length,
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    sideways: document.documentElement.scrollWidth > window.innerWidth + 1,
    wide, claims,
    colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
  };
})()
"""


class _Tab:
    """One browser tab with its error log and the offline request filter."""

    def __init__(self, browser: Chromium, origin: str):
        self.b, self.origin = browser, origin
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget",
                                    {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.cmd(f"{domain}.enable")
        self.cmd("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1,
                  "mobile": False})
        self.errors: list[str] = []
        self.loaded = False

    def cmd(self, method, params=None, timeout=PAGE_TIMEOUT_S, wait=True):
        return self.b.send(method, params, self.session, timeout, wait)

    def _handle(self, ev: dict) -> None:
        method, p = ev.get("method"), ev.get("params", {})
        if ev.get("sessionId") != self.session:
            return
        if method == "Fetch.requestPaused":
            url = p["request"]["url"]
            if url.startswith(self.origin) or url.startswith(("data:", "blob:")):
                self.cmd("Fetch.continueRequest", {"requestId": p["requestId"]}, wait=False)
            else:
                self.errors.append(f"request to the network refused: {url}")
                self.cmd("Fetch.failRequest", {"requestId": p["requestId"],
                                               "errorReason": "BlockedByClient"}, wait=False)
        elif method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append("uncaught exception: " + d.get("exception", {}).get(
                "description", d.get("text", "?")).splitlines()[0])
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            self.errors.append(f"console.{p['type']}: {args[:200]}")
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            e = p["entry"]
            self.errors.append(f"console: {e.get('text', '')[:200]} {e.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            if p.get("blockedReason") != "inspector" and "BLOCKED_BY_CLIENT" not in \
                    p.get("errorText", ""):
                self.errors.append(f"request failed: {p.get('errorText')}")
        elif method == "Network.responseReceived" and p["response"]["status"] >= 400:
            self.errors.append(f"HTTP {p['response']['status']}: {p['response']['url']}")

    def pump(self, until=lambda: False, timeout: float = PAGE_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.b.events(timeout=0.1):
                self._handle(ev)
            if until() or time.monotonic() > deadline:
                return

    def open(self, url: str) -> dict:
        self.errors, self.loaded = [], False
        self.cmd("Page.navigate", {"url": url}, wait=False)  # its requests need answers first
        self.pump(lambda: self.loaded)
        if not self.loaded:
            self.errors.append("the page did not finish loading")
        result = {}
        done = threading.Event()

        def probe():
            try:
                out = self.cmd("Runtime.evaluate", {"expression": _PROBE, "awaitPromise": True,
                                                    "returnByValue": True})
                result.update(out)
            except CDPError as exc:
                result["error"] = str(exc)
            done.set()

        threading.Thread(target=probe, daemon=True).start()
        self.pump(done.is_set)  # keep answering paused requests while the probe runs
        self.pump(timeout=0.3)  # late console messages
        if "error" in result or "exceptionDetails" in result:
            self.errors.append(f"page probe failed: {result.get('error') or result}")
            return {}
        return result.get("result", {}).get("value", {})

    def screenshot(self, path: Path, max_height: int = 6000) -> None:
        """The whole page (up to ``max_height`` px) as PNG, at the test viewport's width."""
        height = self.cmd("Runtime.evaluate", {
            "expression": "document.documentElement.scrollHeight", "returnByValue": True})
        h = min(int(height["result"]["value"]), max_height)
        metrics = {"width": VIEWPORT[0], "deviceScaleFactor": 1, "mobile": False}
        self.cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": h})
        self.pump(timeout=1.0)  # let the layout settle at the new height
        shot = self.cmd("Page.captureScreenshot", {"format": "png"})
        self.cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": VIEWPORT[1]})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def _expectations(html_dir: Path) -> dict[str, dict]:
    """Per page (path relative to the HTML root): what must be on it."""
    from common import paths
    from common.project.book_check import colab_url
    from common.project.bookext import claims_records
    from common.project.paperyml import list_papers, load_paper
    from common.project.sync import committed_claims

    out: dict[str, dict] = {}
    for slug in list_papers():
        paper = load_paper(slug)
        records = committed_claims(paper)
        out[f"papers/{slug}/index.html"] = {
            "claims_rows": len(records), "claim_ids": [c.id for c in paper.claims]}
        import nbformat

        for nb in paper.notebooks:
            cells = nbformat.read(str(paper.dir / nb.file), as_version=4).cells
            has_claims = any(claims_records(c) for c in cells if c.cell_type == "code")
            out[f"papers/{slug}/{nb.stem}.html"] = {
                "colab": colab_url(slug, nb.file),
                "notebook_file": paths.repo_root() / "papers" / slug / nb.file,
                "claims_rows": len(claims_records(next(
                    c for c in cells if c.cell_type == "code" and claims_records(c))))
                if has_claims else None}
    return out


def check_pages(html_dir: Path, screenshots: Path | None = None,
                binary: str | None = None) -> tuple[list[str], dict]:
    """(problems, per-page summary) for every HTML page of the book in ``html_dir``."""
    from common.project.notebooks import repo_config

    html_dir = Path(html_dir).resolve()
    binary = binary or find_chromium()
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if not p.relative_to(html_dir).parts[0].startswith("_"))
    expect = _expectations(html_dir)
    ref = repo_config()["ref"]
    server, origin = _serve(html_dir)
    browser = Chromium(binary)
    problems, summary = [], {}
    try:
        tab = _Tab(browser, origin)
        for page in pages:
            info = tab.open(origin + page)
            errs = [f"{page}: {e}" for e in tab.errors]
            if info.get("redirect"):  # index.html: a redirect to the landing page
                problems += errs
                continue
            if info:
                summary[page] = {k: info[k] for k in ("containers", "images", "mathjax")}
                if info["containers"] and not info["mathjax"]:
                    errs.append(f"{page}: math on the page but MathJax did not run")
                if info["merrors"]:
                    errs.append(f"{page}: {len(info['merrors'])} MathJax errors (mjx-merror): "
                                + "; ".join(map(repr, info["merrors"][:5])))
                errs += [f"{page}: math left as TeX: {t!r}" for t in info["rawMath"][:5]]
                errs += [f"{page}: raw TeX in the text: {t!r}" for t in info["rawText"][:5]]
                errs += [f"{page}: image did not load: {s}" for s in info["broken"]]
                if info["sideways"]:
                    errs.append(f"{page}: the page scrolls sideways (something is too wide)")
                if info["wide"]:
                    errs.append(f"{page}: {info['wide']} display equations overflow the column")
                if re.search(r"[$\\]", info["title"]):
                    errs.append(f"{page}: TeX in the page title {info['title']!r}")
                want = expect.get(page, {})
                if want.get("claims_rows") is not None:
                    tables = info["claims"]
                    if not tables:
                        errs.append(f"{page}: no claims table")
                    elif tables[0]["rows"] != want["claims_rows"]:
                        errs.append(f"{page}: the claims table has {tables[0]['rows']} rows, "
                                    f"{want['claims_rows']} claims were committed")
                    elif not all(t["oneLine"] for t in tables):
                        errs.append(f"{page}: a collapsed claims row is taller than one line")
                    seen = {i for t in tables for i in t["ids"]}
                    missing = [c for c in want.get("claim_ids", []) if c not in seen]
                    if tables and missing:
                        errs.append(f"{page}: claims of paper.yml missing from the table: "
                                    f"{missing}")
                if "colab" in want:
                    links = info["colab"]
                    if want["colab"] not in links:
                        errs.append(f"{page}: no Colab link to {want['colab']} (found {links})")
                    for link in links:
                        u = urlparse(link)
                        m = re.fullmatch(r"/github/[\w.-]+/[\w.-]+/blob/([^/]+)/(.+\.ipynb)",
                                         u.path)
                        if u.scheme != "https" or not m:
                            errs.append(f"{page}: malformed Colab link {link}")
                        elif m.group(1) != ref:
                            errs.append(f"{page}: Colab link at {m.group(1)}, pinned ref is {ref}")
                    if not Path(want["notebook_file"]).is_file():
                        errs.append(f"{page}: the Colab link's notebook does not exist")
            problems += errs
        if screenshots:
            for page, name in (("papers/ngn-m/index.html", "chapter.png"),
                               ("papers/ngn-m/02_mlp_mnist.html", "notebook.png")):
                if page in pages:
                    tab.open(origin + page)
                    tab.screenshot(Path(screenshots) / name)
    finally:
        browser.close()
        server.shutdown()
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    """``make book``'s browser stage: exit 0 (or skipped without Chromium), 1 on problems."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", nargs="?", default="book/_build/html")
    parser.add_argument("--screenshots", default=None,
                        help="save a chapter and a notebook page as PNG into this folder")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        reason = ("no Chromium found (install Debian's `chromium`: .ci/install-chromium, or set "
                  "REPRO_CHROMIUM)")
        if os.environ.get("REPRO_REQUIRE_BROWSER") == "1":
            print(f"browser check: FAILED: {reason}", file=sys.stderr)
            return 1
        print(f"browser check: SKIPPED: {reason}")
        return 0
    t0 = time.monotonic()
    problems, summary = check_pages(Path(args.html_dir), args.screenshots, binary)
    for p in problems:
        print("browser check:", p, file=sys.stderr)
    n_math = sum(s["containers"] for s in summary.values())
    n_img = sum(s["images"] for s in summary.values())
    version = next((s["mathjax"] for s in summary.values() if s["mathjax"]), None)
    print(f"browser check: {len(summary)} pages offline in headless Chromium, {n_math} rendered "
          f"expressions (MathJax {version}), {n_img} images, {len(problems)} problems "
          f"({time.monotonic() - t0:.0f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
