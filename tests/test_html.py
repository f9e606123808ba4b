from __future__ import annotations

from livetemplate.html import inject


def test_meta_and_script_go_before_head_end() -> None:
    html = inject("<html><head><title>x</title></head><body>b</body></html>", "t&k")
    assert html == (
        '<html><head><title>x</title><meta name="livetemplate-token" content="t&amp;k">'
        '<script src="/livetemplate-client.js" defer></script></head><body>b</body></html>'
    )


def test_no_script_when_the_template_has_one() -> None:
    src = '<head><script src="/static/livetemplate-client.js"></script></head>'
    assert inject(src, None) == src
    assert inject(src, "t").count("livetemplate-client.js") == 1


def test_without_head_tags_go_after_html_or_doctype_or_first() -> None:
    assert inject("<!DOCTYPE html><p>x</p>", None).startswith("<!DOCTYPE html><script")
    assert inject("<html lang=en><p>x</p>", None).startswith("<html lang=en><script")
    assert inject("<p>x</p>", None, "/c/livetemplate-client.js").startswith(
        '<script src="/c/livetemplate-client.js" defer></script><p>'
    )


def test_script_names_a_live_url_other_than_the_default() -> None:
    assert 'data-lvt-url="/live"' in inject("<p>x</p>", None, live_url="/live")
    assert "data-lvt-url" not in inject("<p>x</p>", None, live_url="/ws")
    assert "data-lvt-url" not in inject("<p>x</p>", None)
