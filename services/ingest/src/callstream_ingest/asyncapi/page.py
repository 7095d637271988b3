"""The AsyncAPI document as one self-contained HTML page: no script, no CDN, no font or
stylesheet to fetch, so it renders the same offline, behind a proxy or saved to a file.

Pure: a JSON document in, an HTML string out.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:2px solid #d9dde3;padding-bottom:4px}
h3{margin:22px 0 6px}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 14px}
th,td{border:1px solid #d9dde3;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:.8em;color:#fff}
.stable{background:#1f7a4d}.internal{background:#6b7480}
.receive{color:#1f5fa8}.send{color:#8a4b08}.why{color:#6b7480}
nav a{margin-right:12px}details{background:#fff;border:1px solid #d9dde3;padding:6px 10px;
margin:6px 0}summary{cursor:pointer;font-weight:600}pre{white-space:pre-wrap;margin:6px 0}
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return " | ".join(_type_of(s) for s in schema[combinator])
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    fmt = schema.get("format")
    return escape(f"{kind} ({fmt})" if fmt else kind)


def _constraints(schema: dict[str, Any]) -> str:
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "default")
    parts = [f"{k}: {json.dumps(schema[k])}" for k in keys if k in schema]
    return escape(", ".join(parts))


def _fields_table(schema: dict[str, Any]) -> str:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return f"<p>{_type_of(schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{_type_of(prop)}</td>"
        f"<td>{'yes' if name in required else ''}</td><td>{_constraints(prop)}</td>"
        f"<td>{escape(str(prop.get('description', '')))}</td></tr>"
        for name, prop in props.items()
    )
    return (
        "<table><tr><th>field</th><th>type</th><th>required</th><th>constraints</th>"
        f"<th>description</th></tr>{rows}</table>"
    )


def _operations_of(doc: dict[str, Any], channel: str) -> list[tuple[str, str, str, str]]:
    out = []
    for op in doc.get("operations", {}).values():
        if _ref_name(op["channel"]["$ref"]) != channel:
            continue
        service = op.get("title", "").split(" ", 1)[0]
        group = op.get("bindings", {}).get("kafka", {}).get("groupId", {}).get("enum", [""])[0]
        out.append((op["action"], service, group, op.get("summary", "")))
    return sorted(out)


def render_asyncapi_html(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    channels: dict[str, Any] = doc.get("channels", {})
    messages: dict[str, Any] = doc.get("components", {}).get("messages", {})
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'AsyncAPI'))}</title><style>{_STYLE}</style>",
        "</head><body><main>",
        f"<h1>{escape(info.get('title', ''))} <small>{escape(info.get('version', ''))}</small>"
        f"</h1><p>{escape(info.get('description', ''))}</p>",
        f"<p>AsyncAPI {escape(doc.get('asyncapi', ''))} &middot; "
        "<a href='asyncapi.json'>the document as JSON</a></p>",
        "<nav><a href='#channels'>Channels</a><a href='#messages'>Messages</a>"
        "<a href='#schemas'>Schemas</a></nav>",
        "<h2>Servers</h2><table><tr><th>name</th><th>host</th><th>protocol</th>"
        "<th>description</th></tr>",
    ]
    for name, server in doc.get("servers", {}).items():
        parts.append(
            f"<tr><td>{escape(name)}</td><td><code>{escape(server.get('host', ''))}</code></td>"
            f"<td>{escape(server.get('protocol', ''))}</td>"
            f"<td>{escape(server.get('description', ''))}</td></tr>"
        )
    parts.append("</table><h2 id='channels'>Channels</h2>")
    parts.append(
        "<table><tr><th>topic</th><th>stability</th><th>partitions</th><th>message</th>"
        "<th>who sends / receives (consumer group)</th><th>description</th></tr>"
    )
    for key, ch in channels.items():
        stability = ch.get("x-callstream-stability", "internal")
        message = ", ".join(
            f'<a href="#message-{escape(_ref_name(m["$ref"]))}">{escape(name)}</a>'
            for name, m in ch.get("messages", {}).items()
        )
        who = "<br>".join(
            f"<span class='{action}'>{escape(action)}</span> {escape(service)}"
            + (f" (<code>{escape(group)}</code>)" if group else "")
            + (f" <small class='why'>{escape(why)}</small>" if why else "")
            for action, service, group, why in _operations_of(doc, key)
        )
        partitions = ch.get("bindings", {}).get("kafka", {}).get("partitions", "")
        parts.append(
            f"<tr id='channel-{escape(key)}'><td><code>{escape(ch.get('address', key))}</code>"
            f"</td><td><span class='badge {escape(stability)}'>{escape(stability)}</span></td>"
            f"<td>{escape(str(partitions))}</td><td>{message}</td><td>{who}</td>"
            f"<td>{escape(ch.get('description', ''))}</td></tr>"
        )
    parts.append("</table><h2 id='messages'>Messages</h2>")
    for name, msg in messages.items():
        key_doc = msg.get("bindings", {}).get("kafka", {}).get("key", {}).get("description", "")
        parts.append(
            f"<h3 id='message-{escape(name)}'>{escape(msg.get('title', name))}</h3>"
            f"<p>{escape(msg.get('summary', ''))} Content type "
            f"<code>{escape(msg.get('contentType', doc.get('defaultContentType', '')))}</code>."
            + (f" Record key: {escape(key_doc)}." if key_doc else "")
            + f"</p><p>Payload: {_type_of(msg.get('payload', {}))}</p>"
            f"<p>{escape(msg.get('payload', {}).get('description', ''))}</p>"
            f"<details><summary>Headers</summary>{_fields_table(msg.get('headers', {}))}"
            "</details>"
        )
    parts.append("<h2 id='schemas'>Schemas</h2>")
    for name, schema in schemas.items():
        parts.append(
            f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>"
            f"<p>{escape(schema.get('description', ''))}</p>{_fields_table(schema)}"
        )
    parts.append("</main></body></html>")
    return "".join(parts)
