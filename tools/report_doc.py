#!/usr/bin/env python3
"""Writes the figure-by-figure part of docs/report.md from a full `gradus report`.

Usage, from the repository root:
    target/release/gradus report --out gradus-report
    python3 tools/report_doc.py gradus-report/index.html > /tmp/figures.md
Each figure becomes a heading with what it shows (the report's own text), what the
runs were checked to show, and the command that reproduces it. Standard library only.
"""
import html
import re
import sys
from html.parser import HTMLParser


def text(fragment: str) -> str:
    """HTML to Markdown-ish text: code and emphasis kept, other tags dropped."""
    fragment = re.sub(r"<code>(.*?)</code>", r"`\1`", fragment, flags=re.S)
    fragment = re.sub(r"</?em>", "*", fragment)
    fragment = re.sub(r'<a href="([^"]*)">(.*?)</a>', r"\2", fragment, flags=re.S)
    fragment = re.sub(r"<[^>]+>", "", fragment)
    return re.sub(r"\s+", " ", html.unescape(fragment)).strip()


def main(path: str) -> None:
    page = open(path, encoding="utf-8").read()
    out = []
    for sec in re.finditer(r'<section id="([^"]+)"><h2>(.*?)</h2>(.*?)</section>', page, re.S):
        sid, title, body = sec.groups()
        if sid == "sec-next":
            continue
        out.append(f"## {text(title)}\n")
        source = re.search(r'<p class="source">(.*?)</p>', body, re.S)
        if source:
            out.append(text(source.group(1)) + "\n")
        for fig in re.finditer(r'<figure id="fig-([^"]+)"><h3>(.*?)</h3><p>(.*?)</p>(.*?)</figure>', body, re.S):
            fid, ftitle, ftext, rest = fig.groups()
            out.append(f"### {text(ftitle)}\n")
            images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', rest)
            for src, alt in images:
                out.append(f"- `{src}`: {html.unescape(alt)}")
            if images:
                out.append("")
            out.append("**What to notice.** " + text(ftext) + "\n")
            checks = re.search(r'<ul class="claims">(.*?)</ul>', rest, re.S)
            if checks:
                out.append("**Checked against the runs** (each time the report is made):\n")
                for li in re.findall(r"<li[^>]*>(.*?)</li>", checks.group(1), re.S):
                    out.append(f"- {text(li)}")
                out.append("")
            cmd = re.search(r"<pre>(.*?)</pre>", rest, re.S)
            if cmd:
                out.append("```sh\n" + html.unescape(cmd.group(1)) + "\n```\n")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gradus-report/index.html")
