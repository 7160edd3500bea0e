"""The browser test: read every page of the built book as a reader's browser shows it.

Headless Chromium (Debian's ``chromium``, driven by playwright through
``executable_path``: nothing here downloads a browser) loads every page of
``_build/html`` from a local HTTP server, offline: every request to another host is
blocked and counted. At 400 px and 1280 px it checks that

* the console shows no error and no script throws;
* MathJax typeset every formula: no ``\\mathbf``, ``$...$``, ``\\(`` or ``$$`` is left in
  the visible text, and no formula failed to parse;
* every image loads (``naturalWidth > 0``);
* no unrendered MyST is visible: ``{glue``, ``{cite``, ``:::`` or a ``{role}`````;
* no output shows a traceback, a warning or stderr text, except in cells tagged
  ``raises-exception`` or ``allow-stderr`` (deliberate);
* at 400 px the ☰ button opens the chapter list (and the ⋮ button the page contents);
  at 1280 px the page shows one search box, not two;
* each notebook page has a launch (Colab) and a download button, and the notebook behind
  the download has the page's outputs: every printed text and every image of the page's
  visible cells (images compared by the SHA-256 that names them in ``_images/``);
* no formula or code line sticks out of the text column, and at 1280 px no code line
  needs horizontal scrolling (shown code is kept within 88 columns);

and that searching for "perplexity" returns results. Before the browser starts, it checks
that the book comes from one execution, the one recorded in ``--run`` (``run.json``, written
by nbval under ``make test``): every download carries that run's identifier, and the
Execution statistics page names that run on every row. A full-page screenshot of every
page at both widths is saved under ``_build/screenshots/``.

Usage::

    python tools/browser_test.py [--html _build/html] [--screenshots _build/screenshots]
                                 [--run _build/executed/run.json]

Exit status: 0 all checks pass; 1 a check failed; 2 no Chromium was found (with
``CI=true`` or ``--require``, that is a failure with status 1, saying why).
Set ``RNNCOURSE_CHROMIUM`` to use another Chromium binary.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import base64
import functools
import hashlib
import http.server
import json
import os
import pathlib
import re
import shutil
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

WIDTHS = (400, 1280)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Cells whose tags say that an error or stderr output is deliberate (myst-nb renders a
# cell's tags as classes tag_<name>).
DELIBERATE_TAGS = ("raises-exception", "allow-stderr")
SEARCH_WORD = "perplexity"
PAGE_TIMEOUT_MS = 30_000

RAW_TEX = [
    (re.compile(r"\\(mathbf|mathrm|mathcal|frac|sum|prod|odot|tilde|hat|log|exp|left|right|begin|end|operatorname|top)\b"), "raw TeX command"),
    (re.compile(r"\$\$"), "raw $$"),
    (re.compile(r"(?<![\w\\$])\$[^\s$][^$\n]{0,300}?(?<!\s)\$(?![\w$])"), "raw $…$ math"),
    (re.compile(r"\\\(|\\\)|\\\[|\\\]"), "raw \\( or \\["),
]
RAW_MYST = [
    (re.compile(r"\{glue"), "unrendered {glue"),
    (re.compile(r"\{cite"), "unrendered {cite"),
    (re.compile(r":::"), "unrendered ::: fence"),
    (re.compile(r"\{[a-zA-Z][\w:.-]*\}`"), "unrendered MyST role"),
    (re.compile(r"```\{"), "unrendered MyST directive"),
]
OUTPUT_PROBLEMS = [
    (re.compile(r"Traceback \(most recent call last\)"), "traceback"),
    (re.compile(r"\b[A-Z]\w*(Warning|Error): "), "warning or error text"),
    (re.compile(r"^\s*warnings\.warn\(", re.M), "warnings.warn"),
]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Runs in the page: visible prose text (not code, not typeset math), and output problems.
JS_TEXT = """
() => {
  const root = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const skip = (el) => el.closest('pre, code, mjx-container, script, style, textarea, .highlight, .cell_output, kbd');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || skip(el)) continue;
    if (el.closest('[hidden]')) continue;
    parts.push(n.textContent);
  }
  const deliberate = %s;
  const outputs = [];
  for (const out of root.querySelectorAll('.cell_output')) {
    const cell = out.closest('.cell');
    const tags = cell ? Array.from(cell.classList).filter(c => c.startsWith('tag_')).map(c => c.slice(4)) : [];
    if (tags.some(t => deliberate.includes(t))) continue;
    const stderr = out.querySelectorAll('.stderr, .traceback, .output.error').length;
    const text = Array.from(out.querySelectorAll('pre')).map(p => p.textContent).join('\\n') || out.textContent;
    outputs.push({stderr, text});
  }
  const merrors = Array.from(root.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error') || e.textContent);
  return {prose: parts.join(' '), outputs, merrors};
}
""" % json.dumps(list(DELIBERATE_TAGS))

JS_IMAGES = """
() => Array.from(document.querySelectorAll('img')).filter(i => !i.closest('dialog:not([open])'))
  .map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
              inOutput: !!i.closest('.cell_output')}))
"""

JS_OVERFLOW = """
(width) => {
  const art = document.querySelector('article.bd-article');
  if (!art) return [];
  const ar = art.getBoundingClientRect();
  const cs = getComputedStyle(art);
  const left = ar.left + parseFloat(cs.paddingLeft) - 1;
  const right = ar.right - parseFloat(cs.paddingRight) + 1;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  // A scrollable box inside the article that holds el: the reader can scroll to it.
  const scrollBox = (el) => {
    for (let p = el.parentElement; p && p !== art; p = p.parentElement) {
      if (scrolls(p) && p.scrollWidth > p.clientWidth + 1) return p;
    }
    return null;
  };
  const describe = (el) => (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
  const bad = [];
  for (const m of art.querySelectorAll('mjx-container')) {
    const r = m.getBoundingClientRect();
    if (r.width === 0 || m.closest('dialog:not([open])')) continue;
    // Clipped: its own overflow hides what does not fit (overflow: visible spills, caught below).
    const clipped = ['hidden', 'clip'].includes(getComputedStyle(m).overflowX) && m.scrollWidth > m.clientWidth + 1;
    const out = (r.right > right + 1 || r.left < left - 1) && !scrollBox(m);
    if (clipped || out) {
      const mml = m.querySelector('mjx-assistive-mml');
      const by = clipped ? m.scrollWidth - m.clientWidth : Math.max(r.right - right, left - r.left);
      bad.push(`formula ${Math.round(Math.max(r.width, m.scrollWidth))} px wide ` +
               `${clipped ? 'is clipped' : 'sticks out of the ' + Math.round(right - left) + ' px column'}` +
               ` by ${Math.round(by)} px and cannot be scrolled: ` +
               `${(mml ? mml.textContent : describe(m)).replace(/\\s+/g, ' ').slice(0, 60)}`);
    }
  }
  const code = art.querySelectorAll('div[class*="highlight-"]:not(.output) pre');
  for (const pre of code) {
    const r = pre.getBoundingClientRect();
    if (r.width === 0) continue;
    if ((r.right > right + 1) && !scrollBox(pre)) {
      bad.push(`code block sticks out of the column by ${Math.round(r.right - right)} px: ${describe(pre)}`);
    } else if (width >= 1200 && pre.scrollWidth > pre.clientWidth + 1) {
      const longest = pre.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      bad.push(`code line of ${longest.length} columns needs horizontal scrolling at ${width} px: ` +
               `${longest.trim().slice(0, 60)}`);
    }
  }
  for (const c of art.querySelectorAll('code')) {
    if (c.closest('pre')) continue;
    const r = c.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.right > right + 1 && !scrollBox(c)) {
      bad.push(`inline code sticks out of the column by ${Math.round(r.right - right)} px: ${describe(c)}`);
    }
  }
  return bad;
}
"""

JS_MATHJAX_DONE = """
() => new Promise((resolve) => {
  const wait = () => {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(() => resolve(true));
    else setTimeout(wait, 25);
  };
  wait();
})
"""

JS_VISIBLE_SEARCH_BOXES = """
() => Array.from(document.querySelectorAll('.search-button-field, form.bd-search'))
  .filter(e => { const r = e.getBoundingClientRect();
                 return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'
                        && !e.closest('dialog:not([open])'); }).length
"""

JS_DIALOG_LINKS = """
(id) => { const d = document.getElementById(id);
          if (!d || !d.open) return -1;
          return Array.from(d.querySelectorAll('a')).filter(a => a.getBoundingClientRect().width > 0).length; }
"""


def find_chromium() -> str | None:
    """The Chromium binary to drive: $RNNCOURSE_CHROMIUM, else Debian's chromium on PATH."""
    candidate = os.environ.get("RNNCOURSE_CHROMIUM")
    if candidate:
        return candidate if os.access(candidate, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would drown the report
        pass


def serve(html_dir: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def book_pages(html_dir: pathlib.Path) -> list[str]:
    """Every content page (relative paths), without search, index and redirect stubs."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir).as_posix()
        if rel.split("/")[0] in ("_static", "_sources", "_images") or rel in ("search.html", "genindex.html"):
            continue
        if 'http-equiv="Refresh"' in path.read_text(encoding="utf-8", errors="replace")[:2000]:
            continue  # the root index.html only redirects to the first page
        pages.append(rel)
    return pages


def _is_glue_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "glue")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "glue"))


def only_glue(code: str) -> bool:
    """A shown cell that is build plumbing: nothing but ``glue(...)`` / ``_ = glue(...)``."""
    try:
        body = ast.parse("\n".join("pass" if ln.lstrip().startswith(("%", "!")) else ln
                                   for ln in code.splitlines())).body
    except SyntaxError:
        return False
    body = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return bool(body) and all(
        _is_glue_call(s.value) if isinstance(s, (ast.Expr, ast.Assign, ast.AnnAssign)) and s.value is not None
        else False for s in body)


def glue_echoes(nb: dict) -> list[str]:
    """Printed glue return values: the execute_result of a shown cell whose last statement
    is a bare ``glue(...)`` (myst-nb strips the glue records from the executed notebook,
    so the cell's source says which value is a glue return value)."""
    echoes = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if {"remove-cell", "remove-output"} & set(cell.get("metadata", {}).get("tags", [])):
            continue
        src = cell.get("source", "")
        src = (src if isinstance(src, str) else "".join(src)).rstrip()
        try:
            body = ast.parse("\n".join("pass" if ln.lstrip().startswith(("%", "!")) else ln
                                       for ln in src.splitlines())).body
        except SyntaxError:
            continue
        if not body or not (isinstance(body[-1], ast.Expr) and _is_glue_call(body[-1].value)):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "execute_result":
                plain = out.get("data", {}).get("text/plain", "")
                plain = _norm(plain if isinstance(plain, str) else "".join(plain))
                if plain:
                    echoes.append(plain)
    return echoes


def _norm(text: str) -> str:
    return " ".join(ANSI.sub("", text).split())


def notebook_expectations(nb: dict) -> tuple[list[str], list[str]]:
    """What the page must show from this notebook: (texts, image SHA-256s) of visible cells."""
    texts, images = [], []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags or "remove-output" in tags:
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                if _norm(text):
                    texts.append(_norm(text))
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                if "image/png" in data:
                    raw = data["image/png"]
                    raw = raw if isinstance(raw, str) else "".join(raw)
                    images.append(hashlib.sha256(base64.b64decode(raw)).hexdigest())
                elif "text/plain" in data and not any(
                        k in data for k in ("text/html", "text/markdown", "text/latex", "image/svg+xml")):
                    text = data["text/plain"]
                    text = text if isinstance(text, str) else "".join(text)
                    if _norm(text):
                        texts.append(_norm(text))
    return texts, images


@dataclass
class PageResult:
    page: str
    width: int
    failures: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def check_page(browser, base_url: str, html_dir: pathlib.Path, page_rel: str, width: int,
                     shots: pathlib.Path) -> PageResult:
    result = PageResult(page_rel, width)
    start = time.perf_counter()
    host = urllib.parse.urlsplit(base_url).netloc
    context = await browser.new_context(viewport={"width": width, "height": 900},
                                        service_workers="block")

    async def route(r):
        if urllib.parse.urlsplit(r.request.url).netloc == host:
            await r.continue_()
        else:
            result.blocked.append(r.request.url)
            await r.abort("blockedbyclient")

    await context.route("**/*", route)
    page = await context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    fail = result.failures.append
    try:
        await page.goto(base_url + page_rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if await page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):
            try:
                await asyncio.wait_for(page.evaluate(JS_MATHJAX_DONE), timeout=20)
            except asyncio.TimeoutError:
                fail("MathJax did not finish typesetting within 20 s")
        info = await page.evaluate(JS_TEXT)
        prose = info["prose"]
        for pattern, what in RAW_TEX + RAW_MYST:
            m = pattern.search(prose)
            if m:
                a = max(0, m.start() - 40)
                fail(f"{what} in the visible text: …{' '.join(prose[a:m.end() + 40].split())}…")
        for err in info["merrors"]:
            fail(f"MathJax could not typeset a formula: {err[:80]}")
        for out in info["outputs"]:
            if out["stderr"]:
                fail(f"an output shows stderr/traceback text: {_norm(out['text'])[:80]}")
                continue
            for pattern, what in OUTPUT_PROBLEMS:
                m = pattern.search(out["text"])
                if m:
                    fail(f"an output shows a {what}: {_norm(out['text'][max(0, m.start() - 20):m.end() + 60])}")
        for code in await page.eval_on_selector_all(
                ".cell_input pre", "els => els.map(e => e.textContent)"):
            if only_glue(code):
                fail(f"a shown cell is only glue(...) plumbing: {_norm(code)[:70]}")
        images = await page.evaluate(JS_IMAGES)
        for img in images:
            if not img["ok"]:
                fail(f"image does not load: {img['src']}")
        for problem in await page.evaluate(JS_OVERFLOW, width):
            fail(problem)
        await check_notebook(page, base_url, html_dir, page_rel, images, fail)
        if width < 992:
            await check_sidebars(page, fail)
        else:
            boxes = await page.evaluate(JS_VISIBLE_SEARCH_BOXES)
            if boxes != 1:
                fail(f"{boxes} search boxes are visible at {width} px (want 1)")
        name = page_rel.removesuffix(".html").replace("/", "__")
        await page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    except Exception as error:  # a page that cannot be checked fails, saying why
        fail(f"could not be checked: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
    finally:
        for text in console_errors:
            if "ERR_BLOCKED_BY_CLIENT" in text and result.blocked:
                continue  # reported below as a blocked request
            fail(f"console error: {text[:200]}")
        if result.blocked:
            fail(f"{len(result.blocked)} request(s) to other hosts (blocked): {result.blocked[0]}")
        await context.close()
    result.seconds = time.perf_counter() - start
    return result


async def check_sidebars(page, fail) -> None:
    """At narrow widths the ☰ button must open the chapter list, the other the page contents."""
    toggle = page.locator(".bd-header-article button.primary-toggle")
    if await toggle.count() == 0 or not await toggle.first.is_visible():
        fail("no visible ☰ (primary sidebar) button")
        return
    await toggle.first.click()
    try:
        await page.wait_for_function(
            "() => { const d = document.getElementById('pst-primary-sidebar-modal'); return d && d.open; }",
            timeout=3000)
    except Exception:
        pass
    links = await page.evaluate(JS_DIALOG_LINKS, "pst-primary-sidebar-modal")
    if links < 5:
        fail("the ☰ button does not open the chapter list"
             + ("" if links < 0 else f" (only {links} links visible)"))
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(100)
    secondary = page.locator(".bd-header-article button.secondary-toggle")
    has_toc = await page.evaluate("() => !!document.querySelector('#pst-page-toc-nav a')")
    if has_toc and await secondary.count() and await secondary.first.is_visible():
        await secondary.first.click()
        try:
            await page.wait_for_function(
                "() => { const d = document.getElementById('pst-secondary-sidebar-modal'); return d && d.open; }",
                timeout=3000)
        except Exception:
            fail("the page-contents button does not open the page's table of contents")
        await page.keyboard.press("Escape")
        await page.wait_for_timeout(100)


async def check_notebook(page, base_url: str, html_dir: pathlib.Path, page_rel: str, images, fail) -> None:
    """A notebook page: launch and download buttons; the download has the page's outputs."""
    source = html_dir / "_sources" / (page_rel.removesuffix(".html") + ".ipynb")
    if not source.is_file():
        return
    colab = await page.locator('.dropdown-launch-buttons a[href*="colab.research.google.com"]').count()
    if not colab:
        fail("no launch (Colab) button")
    hrefs = await page.eval_on_selector_all(
        '.dropdown-download-buttons a[href$=".ipynb"]', "els => els.map(e => e.getAttribute('href'))")
    if not hrefs:
        fail("no download button for the notebook")
        return
    target = urllib.parse.urljoin(base_url + page_rel, hrefs[0])
    rel = urllib.parse.urlsplit(target).path.lstrip("/")
    nb_path = html_dir / urllib.parse.unquote(rel)
    if not nb_path.is_file():
        fail(f"the download button points to a missing file: {hrefs[0]}")
        return
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    texts, nb_images = notebook_expectations(nb)
    shown_plain = [_norm(t) for t in await page.eval_on_selector_all(
        ".cell_output .output.text_plain pre", "els => els.map(e => e.textContent)")]
    for echo in glue_echoes(nb):
        if echo in shown_plain:
            fail(f"the page prints a glue return value (build plumbing): {echo[:60]}")
    # The text of the outputs' <pre> blocks (not the copy buttons' labels around them).
    page_text = _norm(" ".join(await page.eval_on_selector_all(
        ".cell_output pre", "els => els.map(e => e.textContent)")))
    missing = [t for t in texts if t not in page_text]
    for t in missing[:3]:
        fail(f"the downloaded notebook prints text the page does not show: {t[:90]}")
    if len(missing) > 3:
        fail(f"… and {len(missing) - 3} more outputs of the download differ from the page")
    page_hashes = {pathlib.PurePosixPath(i["src"]).stem for i in images if i["inOutput"]}
    nb_hashes = set(nb_images)
    if page_hashes != nb_hashes:
        fail(f"the page's plots differ from the downloaded notebook's: {len(page_hashes - nb_hashes)} "
             f"image(s) only on the page, {len(nb_hashes - page_hashes)} only in the download")


async def check_search(browser, base_url: str, width: int) -> list[str]:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    host = urllib.parse.urlsplit(base_url).netloc

    async def route(r):
        if urllib.parse.urlsplit(r.request.url).netloc == host:
            await r.continue_()
        else:
            await r.abort("blockedbyclient")

    await context.route("**/*", route)
    page = await context.new_page()
    failures = []
    try:
        await page.goto(f"{base_url}search.html?q={SEARCH_WORD}", wait_until="load")
        await page.wait_for_function(
            "() => document.querySelectorAll('#search-results li, ul.search li').length > 0",
            timeout=20_000)
    except Exception:
        failures.append(f"search for {SEARCH_WORD!r} at {width} px returned no results")
    finally:
        await context.close()
    return failures


async def run(html_dir: pathlib.Path, shots: pathlib.Path, chromium: str, jobs: int,
              only: list[str] | None = None) -> int:
    from playwright.async_api import async_playwright

    pages = [p for p in book_pages(html_dir) if not only or any(o in p for o in only)]
    if not pages:
        print(f"browser test: no pages in {html_dir}", file=sys.stderr)
        return 1
    shots.mkdir(parents=True, exist_ok=True)
    server, base_url = serve(html_dir)
    start = time.perf_counter()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            limit = asyncio.Semaphore(jobs)

            async def one(page_rel, width):
                async with limit:
                    return await check_page(browser, base_url, html_dir, page_rel, width, shots)

            tasks = [one(pg, w) for pg in pages for w in WIDTHS]
            results = await asyncio.gather(*tasks)
            search_failures = []
            for w in WIDTHS:
                search_failures += await check_search(browser, base_url, w)
            await browser.close()
    finally:
        server.shutdown()
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r.failures]
    blocked = sum(len(r.blocked) for r in results)
    for r in results:
        status = "FAIL" if r.failures else "ok  "
        print(f"{status} {r.page} @ {r.width} px ({r.seconds:.1f} s)")
        for f in r.failures:
            print(f"       - {f}")
    for f in search_failures:
        print(f"FAIL search: {f}")
    print(f"browser test: {len(pages)} pages x {len(WIDTHS)} widths in {elapsed:.1f} s; "
          f"{blocked} request(s) to other hosts blocked; screenshots in {shots}")
    if failed or search_failures:
        print(f"browser test: FAILED ({len(failed)} page views, {len(search_failures)} search checks)")
        return 1
    print("browser test: passed")
    return 0


def check_one_run(html_dir: pathlib.Path, run_file: pathlib.Path) -> list[str]:
    """What ties the built book to the run in ``run_file`` and does not hold (empty: all
    holds): each downloadable notebook was executed in that run, and the Execution
    statistics page names that run on each of its rows."""
    if not run_file.is_file():
        return [f"{run_file} does not exist: the book was not built from a recorded run"]
    run_id = json.loads(run_file.read_text(encoding="utf-8"))["run_id"]
    problems = []
    downloads = sorted((html_dir / "_sources").rglob("*.ipynb"))
    if not downloads:
        problems.append(f"{html_dir / '_sources'} holds no notebook to download")
    for path in downloads:
        meta = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("rnncourse", {})
        if meta.get("run_id") != run_id:
            problems.append(f"{path.relative_to(html_dir)}: the download comes from run "
                            f"{meta.get('run_id')}, not from run {run_id}")
    stats = html_dir / "book" / "execution.html"
    if stats.is_file():
        html = stats.read_text(encoding="utf-8")
        shown = html.count(f"<p>{run_id[:12]}</p>")
        if shown != len(downloads):
            problems.append(f"the Execution statistics page names run {run_id[:12]} on "
                            f"{shown} rows, not on each of the {len(downloads)} notebooks")
    else:
        problems.append(f"{stats} is missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the built book in headless Chromium.")
    parser.add_argument("--run", type=pathlib.Path,
                        default=pathlib.Path("_build/executed/run.json"),
                        help="the run the book was built from (run.json of --nbval-save)")
    parser.add_argument("--html", type=pathlib.Path, default=pathlib.Path("_build/html"))
    parser.add_argument("--screenshots", type=pathlib.Path, default=pathlib.Path("_build/screenshots"))
    parser.add_argument("--jobs", type=int, default=3, help="pages checked at once")
    parser.add_argument("--pages", nargs="*", help="check only pages whose path contains one of these")
    parser.add_argument("--require", action="store_true",
                        help="fail when no Chromium is found (implied by CI=true)")
    args = parser.parse_args(argv)
    required = args.require or os.environ.get("CI", "").lower() == "true"
    if not (args.html / "index.html").is_file() and not list(args.html.glob("**/*.html")):
        print(f"browser test: {args.html} holds no built book: run `make book` first", file=sys.stderr)
        return 1
    problems = check_one_run(args.html, args.run)
    for problem in problems:
        print(f"browser test: FAILED: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"browser test: every download and the Execution statistics come from the run "
          f"in {args.run}")
    chromium = find_chromium()
    if chromium is None:
        how = ("install Debian's Chromium (`sudo apt-get install chromium`) or set "
               "RNNCOURSE_CHROMIUM to a Chromium binary")
        if required:
            print(f"browser test: FAILED: no Chromium found, and the test is mandatory here "
                  f"(CI=true or --require); {how}", file=sys.stderr)
            return 1
        banner = "!" * 78
        print(f"{banner}\n!! browser test SKIPPED: no Chromium found. To run it, {how}.\n{banner}",
              file=sys.stderr)
        return 2
    return asyncio.run(run(args.html, args.screenshots, chromium, args.jobs, args.pages))


if __name__ == "__main__":
    sys.exit(main())
