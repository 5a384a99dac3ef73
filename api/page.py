"""The one web page at ``/``: a question box and the cited answer, sources grouped by article with the
answering sentence marked, follow-ups in the same tab, and the "nothing answers this" state.

Plain HTML rendered here (every corpus string through ``html.escape``), so the first answer works
without JavaScript: the form POSTs to ``/`` (or ``GET /?q=...``) and the earlier questions ride along
as hidden fields, so a follow-up works too. ``/static/page.js`` then takes over the form: answers come
from POST /v1/ask and are appended below each other, built with ``textContent`` (never HTML); a link to
``/#ask=QUESTION`` asks on load.
"""
from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from retrieval import UserError

from .deps import caller
from .errors import ApiError, from_user_error
from .routes import answer_json
from .service import AskFilters

router = APIRouter(include_in_schema=False)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
MAX_HISTORY = 8


def _segments(length: int, quotes: list[list[int]], bold: list[list[int]]) -> list[tuple[int, int, bool, bool]]:
    """The passage cut where quoting or bold starts or stops: (start, end, quoted, bold) pieces."""
    cuts = {0, length}
    for start, end in list(quotes) + list(bold):
        cuts.update((max(0, min(length, int(start))), max(0, min(length, int(end)))))
    points = sorted(cuts)
    pieces = []
    for start, end in zip(points, points[1:]):
        inside = lambda spans: any(s <= start and end <= e for s, e in spans)  # noqa: E731
        pieces.append((start, end, inside(quotes), inside(bold)))
    return pieces


def _marked(passage: str, quotes: list[list[int]], bold: list[list[int]]) -> str:
    """The passage with the quoted sentence in <mark> and the exact answer in <strong>, all escaped."""
    out = []
    for start, end, quoted, strong in _segments(len(passage), quotes, bold):
        text = escape(passage[start:end])
        text = f"<strong>{text}</strong>" if strong else text
        out.append(f"<mark>{text}</mark>" if quoted else text)
    return "".join(out)


def render_answer(data: dict[str, Any]) -> str:
    """One answered (or unanswered) question as HTML; ``data`` is the /v1/ask JSON."""
    parts = [f'<section class="turn"><h2 class="question">{escape(data["question"])}</h2>']
    if data["answered"]:
        parts.append(f'<p class="answer">{escape(data["answer"])}</p>')
    else:
        parts.append(f'<p class="answer nothing">{escape(data["answer"])}</p>')
        if data["citations"]:
            parts.append('<p class="weak">Nearest passages (weak matches, not an answer):</p>')
    articles: dict[Any, list[dict[str, Any]]] = {}
    for c in data["citations"]:
        articles.setdefault(c["doc_id"], []).append(c)
    for cites in articles.values():
        first = cites[0]
        title = escape(first["title"] or "(untitled)")
        url = first["url"] or ""
        head = f'<a href="{escape(url)}" rel="noopener noreferrer">{title}</a>' if url.startswith(("http://", "https://")) else title
        meta = " · ".join(escape(x) for x in (first["date"] or "undated", first["source"] or "") if x)
        parts.append(f'<article class="source"><h3>{head}</h3><p class="meta">{meta}</p>')
        for c in cites:
            page = f' (page {int(c["page"])})' if c.get("page") else ""
            parts.append(f'<blockquote><span class="n">[{int(c["n"])}]</span> {_marked(c["passage"], c.get("quotes", []), c["bold"])}'
                         f'{escape(page)}</blockquote>')
        parts.append("</article>")
    parts.append("</section>")
    return "".join(parts)


def render_page(answer: dict[str, Any] | None = None, history: list[str] = (), error: str = "",
                key_needed: bool = False, key: str = "") -> str:
    hidden = "".join(f'<input type="hidden" name="history" value="{escape(q)}">' for q in history[-MAX_HISTORY:])
    key_field = (f'<label>API key <input type="password" name="key" id="key" autocomplete="off" '
                 f'value="{escape(key)}"></label>' if key_needed else "")
    placeholder = "Ask a follow-up…" if history else "Ask about the news, e.g. why did talks stop?"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>citebot</title><link rel="stylesheet" href="/static/page.css"></head>
<body><main>
<h1>citebot</h1>
<p class="lede">Answers quoted from the articles, each sentence with its source.</p>
<div id="turns">{render_answer(answer) if answer else ""}</div>
<p id="error" class="error" role="alert">{escape(error)}</p>
<form id="ask" method="post" action="/">
{hidden}{key_field}
<input type="text" name="question" id="question" maxlength="2000" required placeholder="{escape(placeholder)}" autofocus>
<button type="submit">Ask</button>
<button type="submit" name="new" value="1" class="new" formnovalidate>New conversation</button>
</form>
</main><script src="/static/page.js"></script></body></html>"""


async def _answer_page(request: Request, question: str, history: list[str], key: str) -> HTMLResponse:
    needed = request.app.state.auth.configured()
    try:
        who = await run_in_threadpool(caller, request, "reader", key)  # a key lookup may read the store
        service = request.app.state.service
        answer, _ = await service.run(service.ask, question, AskFilters(), who.ident, history=history, endpoint="page")
    except ApiError as exc:
        return _html(render_page(None, history, exc.message, needed, key), exc.status, exc.headers)
    except UserError as exc:
        err = from_user_error(exc)
        return _html(render_page(None, history, err.message, needed, key), err.status)
    return _html(render_page(answer_json(answer, request.app.state.settings), history + [question], "", needed, key))


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"Content-Security-Policy": CSP, **(headers or {})})


@router.get("/")
async def page(request: Request, q: str = "") -> HTMLResponse:
    if q.strip():
        return await _answer_page(request, q[:100_000], [], "")
    return _html(render_page(key_needed=request.app.state.auth.configured()))


@router.post("/")
async def page_form(request: Request) -> HTMLResponse:
    form = await request.form(max_files=0, max_fields=MAX_HISTORY + 5)
    key = str(form.get("key") or "")
    if form.get("new"):
        return _html(render_page(key_needed=request.app.state.auth.configured(), key=key))
    history = [str(h) for h in form.getlist("history") if isinstance(h, str)][-MAX_HISTORY:]
    return await _answer_page(request, str(form.get("question") or ""), history, key)


@router.get("/static/page.js")
async def page_js() -> Response:
    return Response(PAGE_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


@router.get("/static/page.css")
async def page_css() -> Response:
    return Response(PAGE_CSS, media_type="text/css", headers={"Cache-Control": "max-age=300"})


PAGE_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { margin-bottom: 0; } .lede { color: #666; margin-top: .2rem; }
form { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
#question { flex: 1 1 20rem; font-size: 1rem; padding: .5rem; }
button { font-size: 1rem; padding: .5rem 1rem; } .new { background: none; border: 1px solid #aaa; }
.turn { border-top: 1px solid #ddd; padding-top: .5rem; }
.question { font-size: 1.1rem; } .answer { font-size: 1.05rem; }
.nothing { color: #8a4b00; background: #fff4e0; padding: .5rem; }
.weak { color: #666; font-style: italic; }
.source { background: #fff; border: 1px solid #e4e4e4; padding: .25rem .75rem; margin: .5rem 0; }
.source h3 { font-size: 1rem; margin: .4rem 0 0; } .meta { color: #666; font-size: .9rem; margin: 0; }
blockquote { margin: .5rem 0; padding-left: .75rem; border-left: 3px solid #ccc; }
mark { background: #fff2a8; } .n { color: #666; } .error { color: #b00020; }
"""

PAGE_JS = r"""
(function () {
  "use strict";
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var turns = document.getElementById("turns");
  var errorBox = document.getElementById("error");
  var keyBox = document.getElementById("key");
  var history = Array.prototype.map.call(form.querySelectorAll("input[name=history]"), function (e) { return e.value; });
  if (keyBox && !keyBox.value) { keyBox.value = sessionStorage.getItem("citebot-key") || ""; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function inside(spans, start, end) {
    return (spans || []).some(function (s) { return s[0] <= start && end <= s[1]; });
  }

  function marked(passage, quotes, bold) {
    var quote = el("span"), cuts = [0, passage.length];
    (quotes || []).concat(bold || []).forEach(function (s) { cuts.push(s[0], s[1]); });
    cuts = cuts.map(function (c) { return Math.max(0, Math.min(passage.length, c)); })
      .sort(function (a, b) { return a - b; });
    for (var i = 0; i + 1 < cuts.length; i++) {
      var start = cuts[i], end = cuts[i + 1];
      if (start === end) { continue; }
      var node = document.createTextNode(passage.slice(start, end));
      if (inside(bold, start, end)) { var strong = el("strong"); strong.appendChild(node); node = strong; }
      if (inside(quotes, start, end)) { var mark = el("mark"); mark.appendChild(node); node = mark; }
      quote.appendChild(node);
    }
    return quote;
  }

  function render(data) {
    var turn = el("section", "turn");
    turn.appendChild(el("h2", "question", data.question));
    turn.appendChild(el("p", data.answered ? "answer" : "answer nothing", data.answer));
    if (!data.answered && data.citations.length) {
      turn.appendChild(el("p", "weak", "Nearest passages (weak matches, not an answer):"));
    }
    var order = [], groups = {};
    data.citations.forEach(function (c) {
      if (!groups[c.doc_id]) { groups[c.doc_id] = []; order.push(c.doc_id); }
      groups[c.doc_id].push(c);
    });
    order.forEach(function (id) {
      var cites = groups[id], first = cites[0], article = el("article", "source"), h = el("h3");
      if (/^https?:\/\//.test(first.url || "")) {
        var a = el("a", "", first.title || "(untitled)");
        a.href = first.url; a.rel = "noopener noreferrer"; h.appendChild(a);
      } else { h.textContent = first.title || "(untitled)"; }
      article.appendChild(h);
      article.appendChild(el("p", "meta", [first.date || "undated", first.source || ""].filter(Boolean).join(" · ")));
      cites.forEach(function (c) {
        var q = el("blockquote");
        q.appendChild(el("span", "n", "[" + c.n + "]"));
        q.appendChild(document.createTextNode(" "));
        q.appendChild(marked(c.passage, c.quotes, c.bold));
        if (c.page) { q.appendChild(document.createTextNode(" (page " + c.page + ")")); }
        article.appendChild(q);
      });
      turn.appendChild(article);
    });
    turns.appendChild(turn);
    turn.scrollIntoView({block: "start"});
  }

  form.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.name === "new") {
      event.preventDefault(); history = []; turns.textContent = ""; errorBox.textContent = "";
      input.placeholder = "Ask about the news"; input.focus(); return;
    }
    event.preventDefault();
    var question = input.value.trim();
    if (!question) { return; }
    var headers = {"Content-Type": "application/json"};
    if (keyBox && keyBox.value) { headers.Authorization = "Bearer " + keyBox.value; sessionStorage.setItem("citebot-key", keyBox.value); }
    errorBox.textContent = "";
    form.querySelector("button").disabled = true;
    fetch("/v1/ask", {method: "POST", headers: headers, body: JSON.stringify({question: question, history: history.slice(-8)})})
      .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
      .then(function (res) {
        if (!res.ok) { errorBox.textContent = (res.data.error && res.data.error.message) || "error"; return; }
        render(res.data); history.push(question); input.value = ""; input.placeholder = "Ask a follow-up…";
      })
      .catch(function () { errorBox.textContent = "The server could not be reached."; })
      .then(function () { form.querySelector("button").disabled = false; input.focus(); });
  });

  // a link to /#ask=QUESTION asks it on load (shareable questions)
  var asked = /^#ask=(.+)$/.exec(location.hash);
  if (asked) {
    input.value = decodeURIComponent(asked[1].replace(/\+/g, " "));
    history = [];
    if (form.requestSubmit) { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit", {cancelable: true})); }
  }
})();
"""
