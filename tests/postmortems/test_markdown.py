"""A review's Markdown becomes HTML with no live script, handler or javascript: link."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.template import Context, Template

from itsm.markdown import render


class Tags(HTMLParser):
    """The tags and attributes a browser would build from the HTML."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, attrs))


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        "<img src=x onerror=alert(1)>",
        "![x](javascript:alert(1))",
        "<iframe src=https://evil.example></iframe>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_hostile_markdown_renders_inert(text):
    tags = Tags()
    tags.feed(render(text))
    assert not {name for name, _ in tags.seen} & {"script", "img", "iframe"}
    for _, attrs in tags.seen:
        assert not [name for name, _ in attrs if name.startswith("on")]
        links = [value for name, value in attrs if name in ("href", "src")]
        assert all(urlsplit(link).scheme in ("http", "https", "mailto") for link in links)


def test_markdown_keeps_its_formatting():
    html = render(
        "## Root cause\n\nA **bad** [deploy](https://ci.example.org/42).\n\n"
        "| time | event |\n|---|---|\n| 10:00 | paged |\n\n- one\n- two\n\n`code`"
    )
    assert "<h2>Root cause</h2>" in html
    assert "<strong>bad</strong>" in html
    assert (
        '<a href="https://ci.example.org/42" rel="noopener noreferrer nofollow">deploy</a>' in html
    )
    assert "<td>10:00</td>" in html and "<li>two</li>" in html and "<code>code</code>" in html


def test_the_template_filter_renders_and_sanitises():
    template = Template("{% load postmortems %}{{ text|markdown }}")
    html = template.render(Context({"text": "*hi* <script>x</script>"}))
    assert html == "<p><em>hi</em> &lt;script&gt;x&lt;/script&gt;</p>\n"
