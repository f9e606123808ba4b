"""The golden corpus: templates, data steps and (in the JSON files) the exact trees and updates.

Each case is rendered by ``regen.py`` into ``<name>.json``; ``tests/test_golden.py`` replays
the files, so the wire format is pinned by readable fixtures that the browser client's tests
reuse.  Data is plain JSON.  ``templates`` (optional) is a DictLoader mapping, ``main`` the
template rendered; ``options`` are jinja2 Environment options.
"""

from __future__ import annotations

from typing import Any

TODOS = [
    {"id": 1, "title": "Write spec", "done": False},
    {"id": 2, "title": "Build engine", "done": True},
    {"id": 3, "title": "Ship <it>", "done": False},
]

CASES: list[dict[str, Any]] = [
    {
        "name": "counter",
        "source": '<h1>{{ title }}</h1><span id="count">{{ count }}</span>'
                  '<button id="inc" lvt-click="increment">+</button>',
        "steps": [{"title": "Counter", "count": 0}, {"title": "Counter", "count": 1},
                  {"title": "Counter", "count": 1}, {"title": "Counter", "count": 1.0},
                  {"title": "Counter", "count": True}],
    },
    {
        "name": "escaping_and_safe",
        "source": "<p title=\"{{ q }}\">{{ q }}</p>{{ html|safe }}{% autoescape false %}"
                  "{{ q }}{% endautoescape %}",
        "steps": [{"q": "a < b & 'c'", "html": "<b>bold</b>"},
                  {"q": "\"quoted\"", "html": "<i>it</i>"}],
    },
    {
        "name": "if_elif_else",
        "source": "{% if user.admin %}<b>admin {{ user.name }}</b>{% elif user.name %}"
                  "<i>{{ user.name }}</i>{% else %}guest{% endif %}!",
        "steps": [{"user": {"name": "ann", "admin": True}},
                  {"user": {"name": "bob", "admin": True}},
                  {"user": {"name": "bob", "admin": False}},
                  {"user": {"name": "", "admin": False}}],
    },
    {
        "name": "if_without_else",
        "source": "<p>{% if flag %}<em>on {{ n }}</em>{% endif %}</p>",
        "steps": [{"flag": False, "n": 1}, {"flag": True, "n": 1}, {"flag": True, "n": 2},
                  {"flag": False, "n": 3}],
    },
    {
        "name": "keyed_range_ops",
        "source": '<ul>{% for t in todos %}<li data-key="{{ t.id }}" class="{{ "done" if t.done '
                  'else "open" }}">{{ t.title }}</li>{% endfor %}</ul>',
        "steps": [
            {"todos": TODOS},
            {"todos": [TODOS[0], {**TODOS[1], "done": False}, TODOS[2]]},
            {"todos": [TODOS[0], TODOS[1], TODOS[2], {"id": 4, "title": "New", "done": False}]},
            {"todos": [{"id": 0, "title": "First", "done": True}, *TODOS]},
            {"todos": [TODOS[0], {"id": 9, "title": "Middle", "done": False}, *TODOS[1:]]},
            {"todos": [TODOS[0], TODOS[2]]},
            {"todos": [TODOS[2], TODOS[0]]},
            {"todos": []},
            {"todos": TODOS},
        ],
    },
    {
        "name": "reorder_many",
        "source": '{% for x in xs %}<i id="{{ x }}">{{ x }}</i>{% endfor %}',
        "steps": [{"xs": list(range(12))}, {"xs": list(range(11, -1, -1))},
                  {"xs": [*range(1, 12), 0]}],
    },
    {
        # No key attribute: items are numbered ("_k") and keep their number; the values only
        # tell which item was inserted or removed.
        "name": "unkeyed_range_positions",
        "source": "{% for m in log %}<li>{{ m }}</li>{% endfor %}",
        "steps": [{"log": ["hi", "there"]}, {"log": ["hi", "there", "hi"]},
                  {"log": ["there", "hi"]}, {"log": ["x", "there", "hi"]}],
    },
    {
        # A changed item is an update of the same key, never remove + insert; an item removed
        # or inserted in the middle is one "r" or "i".
        "name": "unkeyed_rows_edited_in_place",
        "source": "<ul>{% for t in todos %}<li class=\"{{ 'done' if t.done else 'open' }}\">"
                  "{{ t.title }}</li>{% endfor %}</ul>",
        "steps": [{"todos": TODOS},
                  {"todos": [TODOS[0], {**TODOS[1], "done": False}, TODOS[2]]},
                  {"todos": [TODOS[0], TODOS[2]]},
                  {"todos": [TODOS[0], {"id": 9, "title": "Middle", "done": False},
                             TODOS[2]]}],
    },
    {
        "name": "unkeyed_grid_cells",
        "source": "<table>{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>"
                  "{% endfor %}</tr>{% endfor %}</table>",
        "steps": [{"rows": [[1, 2], [3, 4]]}, {"rows": [[1, 2], [3, 5]]},
                  {"rows": [[1, 2], [3, 5], [6, 7]]}],
    },
    {
        # A key attribute with static text around the slot keys the loop like data-key.
        "name": "prefixed_key",
        "source": '<ul>{% for t in todos %}<li id="todo-{{ t.id }}">{{ t.title }}</li>'
                  "{% endfor %}</ul>",
        "steps": [{"todos": TODOS},
                  {"todos": [TODOS[2], TODOS[0], {**TODOS[1], "title": "Renamed"}]}],
    },
    {
        "name": "duplicate_keys",
        "source": '{% for t in items %}<p data-key="{{ t.id }}">{{ t.v }}</p>{% endfor %}',
        "steps": [{"items": [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}]},
                  {"items": [{"id": 1, "v": "a"}, {"id": 1, "v": "c"}, {"id": 2, "v": "d"}]}],
    },
    {
        "name": "for_else_and_loop_vars",
        "source": "{% for x in xs %}{{ loop.index }}/{{ loop.length }}={{ x }}"
                  "{% if loop.last %}.{% else %}, {% endif %}{% else %}<em>empty</em>{% endfor %}",
        "steps": [{"xs": ["a", "b"]}, {"xs": []}, {"xs": ["c"]}, {"xs": ["c", "a", "b"]}],
    },
    {
        "name": "loop_filter_and_cycle",
        "source": "{% for t in todos if not t.done %}<li class=\"{{ loop.cycle('odd', 'even') }}\">"
                  "{{ t.title }}</li>{% endfor %}",
        "steps": [{"todos": TODOS},
                  {"todos": [TODOS[0], {**TODOS[1], "done": False}, TODOS[2]]}],
    },
    {
        "name": "nested_ranges",
        "source": "<table>{% for row in rows %}<tr data-key=\"{{ loop.index0 }}\">{% for c in row %}"
                  "<td data-key=\"{{ loop.index0 }}\">{{ c }}</td>{% endfor %}</tr>{% endfor %}"
                  "</table>",
        "steps": [{"rows": [[1, 2], [3, 4]]}, {"rows": [[1, 2], [3, 5]]},
                  {"rows": [[1, 2], [3, 5], [6, 7]]}, {"rows": [[1], [3, 5], [6, 7]]}],
    },
    {
        "name": "dict_items",
        "source": "{% for k, v in scores|dictsort %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}"
                  "{{ scores }}",
        "steps": [{"scores": {"b": 2, "a": 1}}, {"scores": {"a": 1, "b": 3}}],
    },
    {
        "name": "filters_and_tests",
        "source": "{{ name|title }} {{ tags|join(', ') }} {{ price|round(1) }} {{ items|length }}"
                  " {{ missing|default('n/a') }} {{ n is odd }} {{ 'x' in tags }}"
                  " {{ items|map(attribute='id')|sum }} {{ name|shout }}",
        "steps": [{"name": "ann lee", "tags": ["x", "y"], "price": 3.14159, "items": TODOS, "n": 3},
                  {"name": "bo", "tags": ["y"], "price": 2.0, "items": TODOS[:1], "n": 4}],
    },
    {
        "name": "attribute_and_item_access",
        "source": "{{ user.name }} {{ user['name'] }} {{ xs[0] }} {{ xs[-1] }} {{ xs[1:]|join }}"
                  " {{ user['items'] }} {{ user.items is callable }}",
        "steps": [{"user": {"name": "a", "items": 3}, "xs": [1, 2, 3]},
                  {"user": {"name": "b", "items": 3}, "xs": [4, 5]}],
    },
    {
        "name": "set_and_with",
        "source": "{% set total = items|length %}{% set label %}<b>{{ total }}</b>{% endset %}"
                  "{{ label }}{% with double = total * 2 %}{{ double }}{% endwith %}"
                  "{% for t in items %}{% set mark = '*' if t.done else '-' %}{{ mark }}{% endfor %}",
        "steps": [{"items": TODOS}, {"items": TODOS[:2]}],
    },
    {
        "name": "macro_and_call",
        "source": "{% macro badge(text, kind='info') %}<span class=\"{{ kind }}\">{{ text }}</span>"
                  "{% endmacro %}{% macro box() %}<div>{{ caller() }}</div>{% endmacro %}"
                  "{{ badge(status) }}{% call box() %}{{ status|upper }}{% endcall %}",
        "steps": [{"status": "ok"}, {"status": "<down>"}],
    },
    {
        "name": "filter_block_raw_comments",
        "source": "{% filter upper %}hello {{ who }}{% endfilter %}{# not shown #}"
                  "{% raw %}{{ raw }}{% endraw %}",
        "steps": [{"who": "you"}, {"who": "them"}],
    },
    {
        "name": "include_extends_super",
        "templates": {
            "base.html": "<title>{% block title %}Site{% endblock %}</title>"
                         "<main>{% block main %}{% endblock %}</main>",
            "row.html": "<li>{{ t.title }}</li>",
            "main": "{% extends 'base.html' %}{% block title %}{{ page }} - {{ super() }}"
                    "{% endblock %}{% block main %}{% for t in todos %}{% include 'row.html' %}"
                    "{% endfor %}{% endblock %}",
        },
        "steps": [{"page": "Home", "todos": TODOS}, {"page": "Todos", "todos": TODOS[1:]}],
    },
    {
        "name": "import_macros",
        "templates": {
            "forms.html": "{% macro field(name, value) %}<input name=\"{{ name }}\" "
                          "value=\"{{ value }}\">{% endmacro %}",
            "main": "{% import 'forms.html' as forms %}{% from 'forms.html' import field %}"
                    "{{ forms.field('q', q) }}{{ field('r', q) }}",
        },
        "steps": [{"q": "a"}, {"q": "b\""}],
    },
    {
        "name": "whitespace_control",
        "options": {"trim_blocks": True, "lstrip_blocks": True},
        "source": "<ul>\n  {% for x in xs %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n"
                  "<p>\n  {{- msg -}}\n</p>",
        "steps": [{"xs": [1, 2], "msg": "hi"}, {"xs": [2], "msg": "bye"}],
    },
    {
        "name": "namespace_in_loop",
        "source": "{% set ns = namespace(total=0) %}{% for x in xs %}{% set ns.total = ns.total + x %}"
                  "{{ ns.total }} {% endfor %}= {{ ns.total }}",
        "steps": [{"xs": [1, 2, 3]}, {"xs": [1, 5, 3]}],
    },
    {
        # A range at the top level is wrapped in a node of its own (protocol.md rule 3a): here
        # the <ul> also holds a heading count, a for-else row and a "see all" link.
        "name": "top_level_range_wrapped",
        "source": '<ul><li>{{ todos|length }} todos</li>{% for t in todos %}'
                  '<li data-key="{{ t.id }}">{{ t.title }}</li>{% else %}<li>none</li>'
                  '{% endfor %}<li><a href="/all">see all</a></li></ul>',
        "steps": [{"todos": TODOS[:2]}, {"todos": TODOS}, {"todos": []}, {"todos": TODOS[1:]}],
    },
    {
        # Text that reads like a template expression is a static-only node (rule 1a).
        "name": "literal_braces",
        "source": '<code>{{ snippet }}</code>{% for s in list %}<li data-key="{{ s }}">'
                  "{{ s }}</li>{% endfor %}",
        "steps": [{"snippet": "{{ user.name }}", "list": ["a", "{{b}}"]},
                  {"snippet": "{{ x }}", "list": ["a", "{{b}}", "{{c}}"]},
                  {"snippet": "plain", "list": ["{{c}}"]}],
    },
]
