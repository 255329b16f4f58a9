"""The coverage report as ONE self-contained HTML file: images inline, no network, plain JS.

The page has a table of coverage per pair with what each pair's data lack, an interactive map of
the latent codes (hover: the frame; click: its nearest frames of every identity) and, per pair, the
uncovered frames worst first: the frame, B's rendering of it and B's nearest training frame, with
the measure that flagged it and by how much.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from combtf.analysis.coverage import EVIDENCE, SHOWN_PER_PAIR, Coverage
from combtf.io.atomic import write_atomic

BY = {"data": "the data", "model": "the model", "both": "data and model"}  # EVIDENCE in a caption
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def data_uri(image: np.ndarray) -> str:
    """uint8 RGB -> an inline PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def script_json(value: object) -> str:
    """JSON that cannot close the <script> element it sits in, whatever file names it holds."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_report(cov: Coverage, points: np.ndarray, neighbours: list[list[list[int]]], out: Path) -> None:
    """`points` [n, 2] is the 2-D map of every frame's code (identities in order), `neighbours`
    per frame and identity the indices of its nearest frames there (`coverage.neighbours`)."""
    frames = cov.frames
    names = frames.identities
    uris = [data_uri(img) for name in names for img in frames.images[name]]
    labels = [(name, str(path)) for name in names for path in frames.paths[name]]
    offsets = dict(zip(names, np.cumsum([0] + [len(frames.paths[n]) for n in names]).tolist()))
    flagged = {offsets[p.source] + i for p in cov.pairs for i in p.uncovered}
    span = np.ptp(points, axis=0) + 1e-9
    xy = ((points - points.min(0)) / span * 560 + 20).round(1)
    plot_data = {
        "names": names,
        "colours": [PALETTE[i % len(PALETTE)] for i in range(len(names))],
        "points": [
            {"x": float(x), "y": float(y), "id": names.index(name), "path": path, "uncovered": i in flagged}
            for i, ((x, y), (name, path)) in enumerate(zip(xy, labels))
        ],
        "neighbours": neighbours,
        "images": uris,
    }
    rows = "".join(
        f"<tr><td>{html.escape(p.source)}</td><td>{html.escape(p.target)}</td><td>{p.coverage:.3f}</td>"
        f"<td>{len(p.uncovered)} of {p.frames}</td>"
        + "".join(f"<td>{sum(p.flagged_by(i) == e for i in p.uncovered)}</td>" for e in EVIDENCE)
        + '<td class="missing">' + ("<br>".join(html.escape(m) for m in p.missing()) or "nothing") + "</td></tr>"
        for p in cov.pairs
    )
    sections = []
    for p in cov.pairs:
        items = []
        for i in p.uncovered[:SHOWN_PER_PAIR]:
            j = int(p.nearest[i])
            a_path, b_path = frames.paths[p.source][i], frames.paths[p.target][j]
            items.append(
                f'<figure class="pair"><img src="{uris[offsets[p.source] + i]}" title="{html.escape(str(a_path))}">'
                f'<img src="{data_uri(p.renders[i])}" title="{html.escape(p.target)} rendering it">'
                f'<img src="{uris[offsets[p.target] + j]}" title="{html.escape(str(b_path))}">'
                f"<figcaption>{html.escape(a_path.name)}: flagged by {BY[p.flagged_by(i)]}<br>"
                f"{html.escape(p.explain(i))}<br>nearest {html.escape(b_path.name)}</figcaption></figure>"
            )
        more = len(p.uncovered) - SHOWN_PER_PAIR
        tail = f"<p>... and {more} more (all are in the JSON report).</p>" if more > 0 else ""
        body = "".join(items) or "<p>Every frame is covered.</p>"
        sections.append(
            f"<h3>{html.escape(p.source)} frames that {html.escape(p.target)}'s decoder cannot render "
            f"({len(p.uncovered)}, worst first; left to right: the frame, {html.escape(p.target)}'s rendering of it, "
            f"the nearest {html.escape(p.target)} training frame)</h3>"
            f'<div class="pairs">{body}</div>{tail}'
        )
    page = _TEMPLATE.format(
        title=html.escape(f"Latent coverage: {cov.run.name}, level {frames.level} ({cov.resolution} px)"),
        measure=html.escape(cov.measure),
        rows=rows,
        sections="".join(sections),
        data=script_json(plot_data),
    )
    write_atomic(out, page.encode("utf-8"))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
td.missing {{ text-align: left; font-size: 12px; }}
#map {{ border: 1px solid #ccc; background: #fafafa; }}
#map circle {{ cursor: pointer; }}
#tip {{ position: fixed; display: none; background: #fff; border: 1px solid #888; padding: 4px; font-size: 12px; pointer-events: none; }}
#tip img, .pair img, #near img {{ width: 64px; height: 64px; image-rendering: pixelated; }}
.pairs {{ display: flex; flex-wrap: wrap; gap: 8px; }} .pair {{ margin: 0; font-size: 11px; }}
#near div {{ margin: 4px 0; }} #near img {{ margin-right: 3px; }}
</style></head><body>
<h1>{title}</h1>
<p><b>Measure.</b> {measure}</p>
<table><tr><th>frames of</th><th>decoder of</th><th>coverage</th><th>uncovered</th><th>flagged by the data</th>
<th>by the model</th><th>by both</th><th>what the decoder's data lack</th></tr>{rows}</table>
<h2>Latent map</h2>
<p>Each dot is a frame's latent code; rings mark frames some other identity cannot render.
Hover a dot to see the frame, click it to list its nearest frames of every identity.</p>
<div style="display:flex; gap: 1.5em; align-items: flex-start">
<svg id="map" width="600" height="600" viewBox="0 0 600 600"></svg>
<div id="near"><p>Click a dot.</p></div></div>
<div id="tip"><img id="tip-img" alt=""><div id="tip-text"></div></div>
<h2>Uncovered frames per pair</h2>
{sections}
<script type="application/json" id="plot-data">{data}</script>
<script>
const D = JSON.parse(document.getElementById("plot-data").textContent);
const svg = document.getElementById("map"), tip = document.getElementById("tip");
const NS = "http://www.w3.org/2000/svg";
function label(i) {{ return D.names[D.points[i].id] + ": " + D.points[i].path; }}
D.points.forEach((p, i) => {{
  const c = document.createElementNS(NS, "circle");
  c.setAttribute("cx", p.x); c.setAttribute("cy", p.y); c.setAttribute("r", 4);
  c.setAttribute("fill", D.colours[p.id]); c.setAttribute("fill-opacity", 0.75);
  if (p.uncovered) {{ c.setAttribute("stroke", "#000"); c.setAttribute("stroke-width", 1.5); }}
  c.dataset.index = i;
  c.addEventListener("mouseenter", e => {{
    document.getElementById("tip-img").src = D.images[i];
    document.getElementById("tip-text").textContent = label(i);
    tip.style.display = "block"; tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
  }});
  c.addEventListener("mouseleave", () => {{ tip.style.display = "none"; }});
  c.addEventListener("click", () => {{
    const near = document.getElementById("near"); near.replaceChildren();
    const head = document.createElement("p"); head.textContent = "Nearest to " + label(i); near.appendChild(head);
    D.neighbours[i].forEach((row, k) => {{
      const line = document.createElement("div"); line.className = "near-row";
      line.appendChild(document.createTextNode(D.names[k] + ": "));
      row.forEach(j => {{ const img = document.createElement("img"); img.src = D.images[j]; img.title = label(j); line.appendChild(img); }});
      near.appendChild(line);
    }});
  }});
  svg.appendChild(c);
}});
const legend = document.createElementNS(NS, "g");
D.names.forEach((n, k) => {{
  const t = document.createElementNS(NS, "text"); t.setAttribute("x", 8); t.setAttribute("y", 14 + 14 * k);
  t.setAttribute("fill", D.colours[k]); t.setAttribute("font-size", 12); t.textContent = n; legend.appendChild(t);
}});
svg.appendChild(legend);
</script></body></html>
"""
