"""The console's only stylesheet, inlined in every page and allowed by its CSP hash (no external assets)."""

from __future__ import annotations

import base64
import hashlib
from typing import Final

CSS: Final = """
:root{--ink:#1d2733;--muted:#5d6b7a;--line:#d9e0e7;--bg:#f5f7f9;--card:#fff;--accent:#1f5f99;
--ok:#1e7a46;--warn:#9a6700;--bad:#b42318;--grey:#596675}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header{background:#14283d;color:#fff}
header .bar{max-width:1180px;margin:0 auto;padding:10px 20px;display:flex;gap:18px;align-items:center;
flex-wrap:wrap}
header .brand{font-weight:700;letter-spacing:.02em;margin-right:12px}
header nav{display:flex;gap:14px;flex-wrap:wrap;flex:1}
header a{color:#dce8f5;text-decoration:none}
header a:hover,header a.active{color:#fff;text-decoration:underline}
header .who{font-size:13px;color:#b9c9da;display:flex;gap:10px;align-items:center}
header form{margin:0}
header button{background:transparent;color:#dce8f5;border:1px solid #4b6886;padding:3px 10px}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 16px}
h2{font-size:17px;margin:28px 0 10px}
a{color:var(--accent)}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;
margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:14px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;
text-decoration:none;color:inherit;display:block}
.stat .n{font-size:28px;font-weight:700}
.stat .l{color:var(--muted);font-size:13px}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);
border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef2f6;font-size:13px;color:var(--muted);font-weight:600}
tr:last-child td{border-bottom:0}
dl.facts{display:grid;grid-template-columns:200px 1fr;gap:6px 16px;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.mono,code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:13px;overflow-wrap:anywhere}
pre{background:#0f1b28;color:#e3edf7;padding:12px;border-radius:6px;overflow:auto;font-size:12px;
white-space:pre-wrap;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid currentColor}
.badge.granted,.badge.verified,.badge.active,.badge.approved,.badge.resolved{color:var(--ok)}
.badge.withdrawn,.badge.rejected,.badge.disabled,.badge.refused,.badge.block{color:var(--bad)}
.badge.expired,.badge.demo{color:var(--grey)}
.badge.pending,.badge.proposed,.badge.review{color:var(--warn)}
tr.refused td{background:#fdecea}
pre.checked{background:#fffbea;color:var(--ink);border:1px solid #e7d9a6;font-size:14px}
.stack.wide{max-width:720px}
.card>h2:first-child{margin-top:0}
form.search{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end}
label{display:flex;flex-direction:column;font-size:13px;color:var(--muted);gap:3px}
input,select,textarea{font:inherit;color:var(--ink);padding:6px 8px;border:1px solid #b8c4d0;
border-radius:6px;background:#fff}
textarea{width:100%;min-height:80px}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid var(--accent);
background:var(--accent);color:#fff;cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}
button.quiet{background:#fff;color:var(--accent)}
.inline{display:inline-flex;gap:6px;align-items:center;margin:0}
.notice{border-left:4px solid var(--ok);background:#eaf6ee;padding:10px 14px;border-radius:6px;
margin-bottom:16px}
.error{border-left:4px solid var(--bad);background:#fdecea;padding:10px 14px;border-radius:6px;
margin-bottom:16px}
.hint{color:var(--muted);font-size:13px}
.login{max-width:380px;margin:60px auto}
.login form,.stack{display:flex;flex-direction:column;gap:12px}
.stack{max-width:380px}
.pager{display:flex;gap:12px;margin-top:12px;align-items:center}
details summary{cursor:pointer;color:var(--accent)}
""".strip()

CSP_STYLE_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode()
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; "
    f"style-src '{CSP_STYLE_HASH}'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
