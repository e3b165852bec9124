"""Parsing the project's HTML pages in tests (the map, the report): tags and text."""

from __future__ import annotations

from html.parser import HTMLParser


class PageTags(HTMLParser):
    """Every start tag with its attributes, and the text of each ``<script>``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def parse_page(page: str) -> PageTags:
    p = PageTags()
    p.feed(page)
    p.close()
    return p
