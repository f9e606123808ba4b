"""Differential tests: ``lt_engine`` against Jinja2, the oracle (see docs and DESIGN.md).

For a template T, initial data d0 and steps producing d1, d2, …, every test checks the same
invariant (``check_live``):

* ``tpl.render(d)`` and the HTML of the mounted tree equal Jinja2's rendering with autoescape on;
* each ``m.update(d_i)`` is JSON-safe (every scalar on the wire is a string); a client copy of
  the tree that only ever sees the JSON of the first tree and of the updates, merged by
  ``lt_engine.apply_update``, renders (``to_html``) exactly what Jinja2 renders for d_i, and so do
  ``m.html()`` and ``to_html(m.tree)``;
* when d_i equals d_{i-1} in value *and* type (and dict order, and float sign), the update is
  ``{}`` — the engine must not send what did not change;
* the engine never mutates the user's data.

Steps mutate the same objects in place (``todos[3]["done"] = True``, ``items.append(x)``, …),
reassign top-level keys, or build fresh data; the oracle always renders the *current* data.
Half the runs pass ``changed=`` (the exact set of changed top-level names).

The property tests generate templates and data (``tests/strategies.py``); the example tests
below them are one readable spec per construct, each run across a few data steps.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from markupsafe import Markup

import lt_engine

try:  # tests/ may or may not become a package; support both import styles
    from tests import strategies as S
except ImportError:  # pragma: no cover
    import strategies as S  # type: ignore[no-redef]

Step = Callable[[dict[str, Any]], dict[str, Any]]

# ---------------------------------------------------------------------------------------------
# The invariant
# ---------------------------------------------------------------------------------------------


class OracleError(Exception):
    """Jinja2 itself failed on this template/data: the example is not a valid test case."""


def _note(text: str) -> None:
    """``hypothesis.note`` that also works in the plain pytest tests (where it is a no-op)."""
    try:
        note(text)
    except InvalidArgument:
        pass


def _assert_wire_safe(obj: Any, where: str) -> None:
    """Every dict key and every scalar leaf of a tree or update must be a string."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), f"non-string key {k!r} at {where}"
            _assert_wire_safe(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _assert_wire_safe(v, f"{where}[{i}]")
    else:
        assert isinstance(obj, str), f"non-string leaf {obj!r} ({type(obj).__name__}) at {where}"


def _via_json(obj: Any, what: str) -> Any:
    """What a browser would receive: the JSON round trip must be lossless."""
    wire = json.loads(json.dumps(obj))
    assert wire == obj, f"{what} does not survive JSON: {obj!r}"
    _assert_wire_safe(obj, what)
    return wire


def _make_envs(
    source: str, templates: dict[str, str] | None, options: dict[str, Any]
) -> tuple[jinja2.Template, Any]:
    # Separate loaders: neither side can observe the other's cache.
    jloader = jinja2.DictLoader(dict(templates)) if templates else None
    jenv = jinja2.Environment(**{"autoescape": True, "loader": jloader, **options})
    eloader = jinja2.DictLoader(dict(templates)) if templates else None
    eenv = lt_engine.Environment(loader=eloader, **options)
    if templates and source in templates:
        try:
            jtpl = jenv.get_template(source)
        except jinja2.TemplateError as exc:
            raise OracleError(exc) from exc
        return jtpl, eenv.get_template(source)
    try:
        jtpl = jenv.from_string(source)
    except jinja2.TemplateError as exc:
        raise OracleError(exc) from exc
    return jtpl, eenv.from_string(source)


def _oracle(jtpl: jinja2.Template, data: dict[str, Any]) -> str:
    try:
        return jtpl.render(data)
    except Exception as exc:
        raise OracleError(f"{type(exc).__name__}: {exc}") from exc


def check_live(
    source: str,
    d0: dict[str, Any],
    steps: list[Step],
    *,
    templates: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    use_changed: bool = False,
) -> None:
    """Assert the invariant for one template across ``steps`` (see the module docstring).

    ``source`` is the template source, or its name in ``templates`` (a DictLoader mapping).
    Raises :class:`OracleError` when Jinja2 itself cannot render the template or data.
    """
    jtpl, tpl = _make_envs(source, templates, options or {})
    data = d0
    expected = _oracle(jtpl, data)
    before = copy.deepcopy(data)

    assert tpl.render(data) == expected, "render() differs from jinja2 for d0"
    m = tpl.mount(data)
    tree = _via_json(m.tree, "tree")
    assert lt_engine.to_html(copy.deepcopy(tree)) == expected, "to_html(mount tree) != jinja2"
    assert m.html() == expected, "m.html() after mount != jinja2"
    assert S.strict_eq(before, data), "mount() mutated the user's data"

    for i, step in enumerate(steps, 1):
        prev = copy.deepcopy(data)  # deepcopy keeps aliasing and types (Markup, -0.0)
        data = step(data)
        expected = _oracle(jtpl, data)
        snapshot = copy.deepcopy(data)
        if use_changed:
            changed = S.changed_names(prev, data)
            u = m.update(data, changed=changed)
        else:
            changed = None
            u = m.update(data)
        _note(f"step {i}: changed={changed!r} update={u!r}")
        assert S.strict_eq(snapshot, data), f"step {i}: update() mutated the user's data"
        wire = _via_json(u, f"update[{i}]")
        if S.strict_eq(prev, data):
            assert u == {}, f"step {i}: data unchanged (value and type) but update is {u!r}"
        tree = lt_engine.apply_update(tree, wire)
        got = lt_engine.to_html(copy.deepcopy(tree))
        assert got == expected, (
            f"step {i}: client tree after apply_update renders\n{got!r}\nexpected (jinja2)\n"
            f"{expected!r}\nupdate={u!r}"
        )
        assert m.html() == expected, f"step {i}: m.html() != jinja2"
        assert lt_engine.to_html(copy.deepcopy(m.tree)) == expected, (
            f"step {i}: to_html(m.tree) != jinja2"
        )
        _via_json(m.tree, f"tree after step {i}")
        assert tpl.render(data) == expected, f"step {i}: render() != jinja2"


def _hyp_steps(steps: list[tuple[Any, ...]]) -> list[Step]:
    return [lambda d, s=s: S.apply_step(d, s) for s in steps]


def _check_or_reject(source: str, d0: dict[str, Any], steps: list[Step], **kw: Any) -> None:
    try:
        check_live(source, d0, steps, **kw)
    except OracleError:
        reject()  # jinja2 raised (e.g. Undefined in tojson): not a test of the engine


# ---------------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------------

FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FAST, max_examples=250)
@given(
    options=S.env_options_st,
    source=S.template_st(),
    d0=S.data_st(),
    steps=S.steps_st,
    use_changed=st.booleans(),
)
def test_generated_template_live(
    options: dict[str, Any],
    source: str,
    d0: dict[str, Any],
    steps: list[tuple[Any, ...]],
    use_changed: bool,
) -> None:
    _note(f"source={source!r}")
    _check_or_reject(source, d0, _hyp_steps(steps), options=options, use_changed=use_changed)


@settings(FAST, max_examples=120)
@given(
    options=S.env_options_st,
    tset=S.template_set_st(),
    d0=S.data_st(),
    steps=S.steps_st,
    use_changed=st.booleans(),
)
def test_generated_template_set_live(
    options: dict[str, Any],
    tset: tuple[str, dict[str, str]],
    d0: dict[str, Any],
    steps: list[tuple[Any, ...]],
    use_changed: bool,
) -> None:
    """include / extends / block / super() across a DictLoader."""
    name, templates = tset
    _check_or_reject(
        name, d0, _hyp_steps(steps), templates=templates, options=options, use_changed=use_changed
    )


# Hand-written loop shapes under heavy list mutation: this is where range diffs (keyed ops,
# duplicates, reorders, aliasing of the same dict twice) go wrong, so give it its own budget.
LOOP_SHAPES = [
    "<ul>{% for x in items %}<li>{{ x.name }}:{{ x.done }}</li>{% endfor %}</ul>",
    '<ul>{% for x in items %}<li data-key="{{ x.id }}">{{ x.name }}</li>{% endfor %}</ul>',
    '{% for x in items %}<li id="{{ x.id }}">{{ loop.index }}/{{ loop.length }}'
    "{% if x.done %}<s>{{ x.name }}</s>{% else %}{{ x.name|upper }}{% endif %}</li>"
    "{% else %}<em>empty</em>{% endfor %}",
    "{% for x in items if x.done %}{{ loop.revindex }}{{ x.name }}"
    "{% for t in x.tags %}[{{ t }}{{ loop.cycle('-', '+') }}]{% endfor %}{% endfor %}",
    '{% for x in items %}<li data-key="{{ x.id }}">'
    '{% for t in x.tags %}<i key="{{ t }}">{{ t }}</i>{% endfor %}</li>{% endfor %}',
    "{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}",
    "{% for k, v in mapping.items() %}{{ k }}={{ v }}{% if not loop.last %},{% endif %}"
    "{% endfor %}",
    "{% set ns = namespace(n=0) %}{% for x in items %}{% set ns.n = ns.n + x.id %}"
    "{{ ns.n }};{% endfor %}={{ ns.n }}",
    "{{ items|length }}{% for x in items|sort(attribute='name') %}{{ x.name }}{% endfor %}"
    "{% for x in items|selectattr('done') %}{{ x.id }}{% endfor %}",
    '{% for b in items|batch(2) %}<div data-key="{{ loop.index }}">'
    "{% for x in b %}{{ x.name }}{% endfor %}</div>{% endfor %}",
    "{% for x in items %}{% set label = x.name ~ '#' ~ x.id %}{{ label }}"
    "{{ 'first' if loop.first }}{% endfor %}{{ items|map(attribute='id')|join(',') }}",
    # The key slot is not the first slot of the item.
    '{% for x in items %}<li class="{{ x.name }}" data-key="{{ x.id }}">{{ x.done }}</li>'
    "{% endfor %}",
    # Key attribute with a static prefix, and a body with no dynamics at all.
    '{% for x in items %}<li id="row-{{ x.id }}">{{ x.name }}</li>{% endfor %}'
    "{% for x in items %}<hr>{% endfor %}",
    # Key attribute only in one branch of an if inside the item.
    '{% for x in items %}{% if x.done %}<li data-key="{{ x.id }}">{{ x.name }}</li>'
    "{% else %}<li>{{ x.name }}</li>{% endif %}{% endfor %}",
    # Keyed loop nested in a keyed loop, both over the same list.
    '{% for x in items %}<ul data-key="{{ x.id }}">{% for y in items %}'
    '<li data-key="{{ y.id }}">{{ x.id }}{{ y.id }}</li>{% endfor %}</ul>{% endfor %}',
    # Loop state that depends on neighbours.
    "{% for x in items %}{% if loop.changed(x.done) %}|{% endif %}{{ x.name }}"
    "{{ loop.previtem.id if loop.previtem }}{{ loop.nextitem.id if loop.nextitem }}"
    "{% endfor %}",
]


@settings(FAST, max_examples=200)
@given(
    source=st.sampled_from(LOOP_SHAPES),
    d0=S.data_st(),
    steps=S.steps_st,
    use_changed=st.booleans(),
)
def test_loop_shapes_under_mutation(
    source: str, d0: dict[str, Any], steps: list[tuple[Any, ...]], use_changed: bool
) -> None:
    _check_or_reject(source, d0, _hyp_steps(steps), use_changed=use_changed)


# The same loops over rows as Python apps write them: dataclasses, __slots__ classes, fields
# behind properties, named tuples (replaced, not mutated).  Attribute reads take the engine's C
# path; items are recognised by position, identity or value as the loop's keys allow.
@settings(FAST, max_examples=200)
@given(
    source=st.sampled_from(LOOP_SHAPES),
    kind=S.row_kinds.filter(lambda k: k != "dict"),
    d0=S.data_st(),
    steps=S.steps_st,
    use_changed=st.booleans(),
)
def test_loop_shapes_over_object_rows(
    source: str, kind: str, d0: dict[str, Any], steps: list[tuple[Any, ...]], use_changed: bool
) -> None:
    def step(d: dict[str, Any], s: tuple[Any, ...]) -> dict[str, Any]:
        out = S.apply_step(d, s)
        return S.with_rows(out, kind) if s[0] == "fresh" else out

    _check_or_reject(source, S.with_rows(d0, kind), [lambda d, s=s: step(d, s) for s in steps],
                     use_changed=use_changed)


UNKEYED_SHAPES = [
    "<ul>{% for x in items %}<li>{{ x.name }}{{ ' done' if x.done }}</li>{% endfor %}</ul>",
    "<table>{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>"
    "{% endfor %}</table>",
    "{% for x in items %}<p>{{ loop.index }}. {{ x.name }}{% for t in x.tags %}<i>{{ t }}</i>"
    "{% endfor %}</p>{% endfor %}",
    '{% for x in items %}<li id="item-{{ x.id }}-row">{{ x.name }}</li>{% endfor %}',
]


@settings(FAST, max_examples=200)
@given(
    source=st.sampled_from(UNKEYED_SHAPES),
    kind=S.row_kinds,
    d0=S.data_st(),
    ops=st.lists(S.inplace_ops, min_size=1, max_size=6),
)
def test_unkeyed_loops_edited_in_place(
    source: str, kind: str, d0: dict[str, Any], ops: list[tuple[Any, ...]]
) -> None:
    """Loops with no key attribute (and a prefixed key) under in-place edits, inserts, removes
    and moves, one op per update: every update applied to the client matches Jinja2."""
    steps = [lambda d, op=op: S.apply_step(d, ("inplace", [op])) for op in ops]
    _check_or_reject(source, S.with_rows(d0, kind), steps)


def test_unkeyed_changes_are_updates_of_the_same_item() -> None:
    """A changed item keeps its key (an "u" op); an insert or a removal in the middle is one op,
    not a rewrite of the rest."""
    tpl = lt_engine.Environment().from_string(UNKEYED_SHAPES[0])
    items = [Todo(i, f"t{i}") for i in range(6)]
    data = {"items": items}
    m = tpl.mount(data)
    items[3].done = True
    # (a range at the top level sits in a node of its own: slot "0" of slot "0")
    assert m.update(data) == {"0": {"0": [["u", "3", {"1": " done"}]]}}
    items.insert(2, Todo(9, "new"))
    assert m.update(data) == {"0": {"0": [["i", "1", {"0": "new", "1": "", "_k": "6"}]]}}
    del items[0]
    assert m.update(data) == {"0": {"0": [["r", "0"]]}}
    items.append(items.pop(0))  # the first row moves to the end
    update = m.update(data)
    assert [op[0] for op in update["0"]["0"]] in (["o"], ["r", "i"], ["r", "a"])
    grid = lt_engine.Environment().from_string(UNKEYED_SHAPES[1])
    rows = [[1, 2, 3], [4, 5, 6]]
    m = grid.mount({"rows": rows})
    rows[1][2] += 1
    assert m.update({"rows": rows}) == {
        "0": {"0": [["u", "1", {"0": [["u", "2", {"0": "7"}]]}]]}
    }


@settings(FAST, max_examples=150)
@given(options=S.env_options_st, source=S.template_st(depth=4), d0=S.data_st())
def test_generated_deep_template_render(
    options: dict[str, Any], source: str, d0: dict[str, Any]
) -> None:
    """Deeper templates, render and mount only (cheaper than a live run)."""
    _check_or_reject(source, d0, [], options=options)


# ---------------------------------------------------------------------------------------------
# Example-based specs, one per construct
# ---------------------------------------------------------------------------------------------


def base() -> dict[str, Any]:
    return {
        "title": "Hello <World> & 'friends'",
        "count": 5,
        "flag": True,
        "label": "1",
        "user": {"name": "Ann", "admin": False},
        "items": [
            {"id": 1, "name": "one", "done": False, "tags": ["a", "b"]},
            {"id": 2, "name": "two", "done": True, "tags": []},
            {"id": 3, "name": "three", "done": False, "tags": ["c"]},
        ],
        "rows": [[1, 2], [3]],
        "mapping": {"a": 1, "b": 2},
    }


def put(key: str, value: Any) -> Step:
    """Reassign a top-level key of the same data dict."""

    def step(d: dict[str, Any]) -> dict[str, Any]:
        # A copy: the same case runs twice (with and without ``changed``) and later steps
        # mutate the value in place.
        d[key] = copy.deepcopy(value)
        return d

    return step


def mut(fn: Callable[[dict[str, Any]], Any]) -> Step:
    """Mutate the data in place (the return value of ``fn`` is ignored)."""

    def step(d: dict[str, Any]) -> dict[str, Any]:
        fn(d)
        return d

    return step


def fresh(**overrides: Any) -> Step:
    """Brand-new data objects (base() with overrides)."""

    def step(d: dict[str, Any]) -> dict[str, Any]:
        nd = base()
        nd.update(copy.deepcopy(overrides))
        return nd

    return step


def same() -> Step:
    """Nothing changes: the update must be {}."""
    return lambda d: d


def deep_copy() -> Step:
    """Equal values in new objects: the update must be {}."""
    return lambda d: copy.deepcopy(d)


def item(i: int, name: str | None = None, done: bool = False, tags: Any = ()) -> dict[str, Any]:
    return {"id": i, "name": name or f"n{i}", "done": done, "tags": list(tags)}


# Each case: (id, source, steps, extra kwargs for check_live).
CASES: list[tuple[str, str, list[Step], dict[str, Any]]] = [
    # -- expressions and values --------------------------------------------------------------
    (
        "type-strict",
        "<p>{{ count }}|{{ label }}|{{ flag }}</p>",
        [
            put("count", 5.0),
            put("count", 1),
            put("count", True),
            put("label", 1),
            put("label", "1"),
            put("flag", 1),
            put("count", 0.0),
            put("count", -0.0),
            same(),
        ],
        {},
    ),
    (
        "none",
        "{{ count }}[{{ label }}]{% if count is none %}none{% endif %}{{ count|default('d') }}",
        [put("count", None), put("label", None), same(), put("count", 0), put("label", "")],
        {},
    ),
    (
        "escaping",
        "<a title=\"{{ title }}\" href='/{{ user.name }}'>{{ title }}</a>{{ title|length }}",
        [
            put("title", "<script>alert('x')</script>"),
            put("title", 'a "quoted" & amp'),
            mut(lambda d: d["user"].update(name="O'Brien & <Co>")),
            put("title", "&amp;"),
        ],
        {},
    ),
    (
        "markup-values",
        "{{ title }}|{{ label }}|{{ title|e }}|{{ title|safe }}",
        [
            put("title", Markup("<b>bold</b>")),
            put("title", "<b>bold</b>"),  # same text, now a plain str: must be escaped
            put("label", Markup("&lt;")),
            put("label", "&lt;"),
            same(),
        ],
        {},
    ),
    (
        "dict-order",
        "{{ mapping }}|{% for k in mapping %}{{ k }}{% endfor %}|{{ mapping|tojson }}",
        [
            put("mapping", {"b": 2, "a": 1}),  # equal as dicts, different order
            mut(lambda d: d["mapping"].update(c=3)),
            mut(lambda d: d["mapping"].pop("b")),
            deep_copy(),
        ],
        {},
    ),
    (
        "inline-if",
        "{{ 'admin' if user.admin else 'guest' }}|{{ title if flag }}|"
        "{{ count if count > 3 else -count }}",
        [
            mut(lambda d: d["user"].update(admin=True)),
            put("flag", False),
            put("count", 2),
            put("count", 2.0),
        ],
        {},
    ),
    (
        "concat-arith-compare",
        "{{ title ~ '!' ~ count }}|{{ count + 1 }}|{{ count * 2 }}|{{ count / 2 }}|"
        "{{ count // 2 }}|{{ count % 3 }}|{{ -count }}|{{ count ** 2 }}|"
        "{{ count > 3 }}|{{ count == 5 }}|{{ count != 5.0 }}|{{ 1 < count <= 9 }}",
        [put("count", 9), put("count", 5.0), put("count", True), put("count", -2), same()],
        {},
    ),
    (
        "attr-vs-item",
        "{{ user.name }}|{{ user['name'] }}|{{ items[0].name }}|{{ items[0]['tags'][0] }}|"
        "{{ items[-1].id }}|{{ items[1:]|map(attribute='name')|join(',') }}|"
        "{{ rows[0][1] }}|{{ (items|first).name }}|{{ mapping.a }}",
        [
            mut(lambda d: d["items"].insert(0, item(9, "nine", tags=["z"]))),
            mut(lambda d: d["items"][0]["tags"].__setitem__(0, "y")),
            mut(lambda d: d["rows"][0].__setitem__(1, 7)),
            mut(lambda d: d["user"].__setitem__("name", "Bob")),
            mut(lambda d: d["items"].pop()),
            mut(lambda d: d["mapping"].__setitem__("a", 10)),
        ],
        {},
    ),
    (
        "tests",
        "{{ count is defined }}{{ nothing is defined }}{{ count is none }}{{ count is odd }}"
        "{{ count is even }}{{ 'a' in mapping }}{{ 2 in rows[0] }}{{ count is eq 5 }}"
        "{{ 'Ann' in user.name }}{{ nothing is undefined }}",
        [put("count", 4), mut(lambda d: d["mapping"].pop("a")), put("count", 5.0), same()],
        {},
    ),
    # -- filters -----------------------------------------------------------------------------
    (
        "filters-str",
        "{{ title|upper }}|{{ title|lower }}|{{ title|title }}|{{ title|trim }}|"
        "{{ title|replace('l', '<L>') }}|{{ title|e }}|{{ title|safe }}|{{ title|first }}|"
        "{{ title|last }}|{{ title|truncate(9, True, '...', 0) }}|{{ title|wordcount }}|"
        "{{ title|length }}|{{ title|default('none', true) }}|{{ '%s-%s'|format(title, count) }}",
        [put("title", "  padded <x>  "), put("title", ""), put("title", Markup("<i>x</i> y"))],
        {},
    ),
    (
        "filters-num",
        "{{ count|round }}|{{ count|round(1, 'floor') }}|{{ count|int }}|{{ count|abs }}|"
        "{{ count|float }}|{{ count|string }}",
        [put("count", -2.55), put("count", 3), put("count", 3.0), put("count", True)],
        {},
    ),
    (
        "filters-list",
        "{{ items|length }}|{{ items|map(attribute='name')|join(', ') }}|"
        "{{ items|selectattr('done')|map(attribute='id')|list }}|"
        "{{ items|rejectattr('done')|list|length }}|{{ items|map(attribute='name')|first|default('-') }}|"
        "{{ items|map(attribute='id')|list|last|default('-') }}|{{ items|sort(attribute='name')|map(attribute='name')|join }}|"
        "{{ items|map(attribute='id')|sum }}|{{ items|sum(attribute='id') }}|"
        "{{ items|map(attribute='id')|unique|list }}|{{ items|reverse|map(attribute='id')|list }}|"
        "{{ rows|batch(1)|list }}|{{ items|map(attribute='tags')|list|tojson }}",
        [
            mut(lambda d: d["items"].append(item(1, "dup-id"))),
            mut(lambda d: d["items"][1].__setitem__("done", False)),
            mut(lambda d: d["items"].sort(key=lambda x: x["name"])),
            put("items", []),
        ],
        {},
    ),
    (
        "filters-dict",
        "{{ mapping|dictsort }}|{{ mapping|dictsort(by='value', reverse=true) }}|"
        "{{ mapping|tojson }}|{{ mapping|length }}|{{ user|tojson }}",
        [
            mut(lambda d: d["mapping"].update(z=-1)),
            put("mapping", {}),
            mut(lambda d: d["user"].update(admin=True)),
        ],
        {},
    ),
    # -- if ----------------------------------------------------------------------------------
    (
        "if-elif-else",
        "{% if count is none %}none{% elif count > 3 %}<b>big {{ count }}</b>"
        "{% elif count > 0 %}<i>small</i>{% else %}{{ title }}{% endif %}",
        [
            put("count", 6),
            put("count", 1),
            put("count", None),
            put("count", -1),
            put("title", "t"),
            put("count", 4),
        ],
        {},
    ),
    (
        "if-without-else",
        "a{% if flag %}<b>{{ user.name }}</b>{% endif %}b",
        [put("flag", False), mut(lambda d: d["user"].update(name="X")), put("flag", True), same()],
        {},
    ),
    (
        "nested-if-in-loop",
        "{% for x in items %}{% if x.done %}{% if x.tags %}{{ x.tags|join }}{% else %}-{% endif %}"
        "{% elif user.admin %}A{% else %}{{ x.name }}{% endif %};{% endfor %}",
        [
            mut(lambda d: d["items"][0].update(done=True)),
            mut(lambda d: d["user"].update(admin=True)),
            mut(lambda d: d["items"][1]["tags"].append("t")),
            mut(lambda d: d["items"][0].update(done=False)),
        ],
        {},
    ),
    # -- for ---------------------------------------------------------------------------------
    (
        "loop-unkeyed",
        "<ul>{% for x in items %}<li>{{ x.name }}</li>{% endfor %}</ul>",
        [
            mut(lambda d: d["items"][2].update(name="THREE")),
            mut(lambda d: d["items"].append(item(4))),
            mut(lambda d: d["items"].insert(0, item(0))),
            mut(lambda d: d["items"].reverse()),
            mut(lambda d: d["items"].__delitem__(1)),
            mut(lambda d: d["items"].append(d["items"][0])),  # the same dict twice
            mut(lambda d: d["items"][0].update(name="both")),  # changes both rows
            deep_copy(),
            put("items", []),
        ],
        {},
    ),
    (
        "loop-keyed",
        '<ul>{% for x in items %}<li data-key="{{ x.id }}">{{ x.name }}'
        "{% if x.done %}✓{% endif %}</li>{% endfor %}</ul>",
        [
            mut(lambda d: d["items"][1].update(done=False)),
            mut(lambda d: d["items"].insert(2, item(7))),
            mut(lambda d: d["items"].insert(0, item(8))),
            mut(lambda d: d["items"].sort(key=lambda x: x["id"])),
            mut(lambda d: d["items"].__delitem__(0)),
            mut(lambda d: d["items"].reverse()),
            mut(lambda d: d["items"].append(item(9))),
            put("items", [item(3, "three"), item(1, "one", tags=["a", "b"])]),
            same(),
        ],
        {},
    ),
    (
        "loop-keyed-duplicate-ids",
        '{% for x in items %}<li id="{{ x.id }}">{{ x.name }}</li>{% endfor %}',
        [
            mut(lambda d: d["items"].append(item(1, "again"))),
            mut(lambda d: d["items"].insert(0, item(1, "first"))),
            mut(lambda d: d["items"].append(d["items"][1])),
            mut(lambda d: d["items"][1].update(name="aliased")),
            mut(lambda d: d["items"].reverse()),
            mut(lambda d: d["items"].__delitem__(0)),
            mut(lambda d: [x.update(id=1) for x in d["items"]]),
        ],
        {},
    ),
    (
        "loop-key-type-change",
        '{% for x in items %}<li data-key="{{ x.id }}">{{ x.id }}</li>{% endfor %}',
        [
            mut(lambda d: d["items"][0].update(id=1.0)),  # key text changes: "1" -> "1.0"
            mut(lambda d: d["items"][0].update(id=True)),
            mut(lambda d: d["items"][0].update(id="1")),
            mut(lambda d: d["items"][1].update(id=1)),
        ],
        {},
    ),
    (
        "loop-nested",
        "{% for x in items %}<li>{{ x.name }}<ul>{% for t in x.tags %}<li>{{ t }}"
        "{{ loop.index }}/{{ x.id }}</li>{% endfor %}</ul></li>{% endfor %}"
        "{% for r in rows %}{% for v in r %}{{ v }},{% endfor %};{% endfor %}",
        [
            mut(lambda d: d["items"][0]["tags"].append("new")),
            mut(lambda d: d["items"][0]["tags"].reverse()),
            mut(lambda d: d["items"][2]["tags"].clear()),
            mut(lambda d: d["rows"][1].insert(0, 0)),
            mut(lambda d: d["rows"].append([])),
            mut(lambda d: d["items"][0].update(id=10)),
        ],
        {},
    ),
    (
        "loop-dict-items",
        "{% for k, v in mapping.items() %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}|"
        "{% for k, v in mapping|dictsort %}{{ k }}{{ v }}{% endfor %}|"
        "{% for k, v in user.items() %}{{ k }}={{ v }};{% endfor %}",
        [
            mut(lambda d: d["mapping"].update(a=5)),
            mut(lambda d: d["mapping"].update(c=0)),
            put("mapping", {"c": 0, "b": 2, "a": 5}),
            mut(lambda d: d["mapping"].pop("b")),
            mut(lambda d: d["user"].update(admin=True)),
        ],
        {},
    ),
    (
        "for-else",
        "{% for x in items %}{{ x.name }}{% else %}<em>no {{ title }}</em>{% endfor %}",
        [
            put("items", []),
            put("title", "things"),
            mut(lambda d: d["items"].append(item(5))),
            mut(lambda d: d["items"].clear()),
            same(),
        ],
        {},
    ),
    (
        "loop-variables",
        "{% for x in items %}{{ loop.index }},{{ loop.index0 }},{{ loop.first }},{{ loop.last }},"
        "{{ loop.length }},{{ loop.revindex }},{{ loop.revindex0 }},"
        "{{ loop.cycle('odd', 'even') }}|{% endfor %}",
        [
            mut(lambda d: d["items"].insert(0, item(0))),
            mut(lambda d: d["items"].pop()),
            mut(lambda d: d["items"].append(item(4))),
            mut(lambda d: d["items"][1].update(name="n")),  # loop values unchanged
            put("items", [item(1)]),
        ],
        {},
    ),
    (
        "loop-filter",
        "{% for x in items if x.done %}{{ loop.index }}:{{ x.name }}{% if loop.last %}.{% endif %}"
        "{% else %}none done{% endfor %}",
        [
            mut(lambda d: d["items"][0].update(done=True)),
            mut(lambda d: d["items"][1].update(done=False)),
            mut(lambda d: [x.update(done=False) for x in d["items"]]),
            mut(lambda d: d["items"][2].update(done=True)),
        ],
        {},
    ),
    (
        "loop-over-filtered-and-sliced",
        "{% for x in items|sort(attribute='name') %}{{ x.name }}{% endfor %}|"
        "{% for x in items[:2] %}{{ x.id }}{% endfor %}|"
        "{% for t in items|map(attribute='name')|unique %}{{ t }}{% endfor %}",
        [
            mut(lambda d: d["items"][0].update(name="zzz")),
            mut(lambda d: d["items"].insert(0, item(0, "aaa"))),
            mut(lambda d: d["items"].append(item(8, "aaa"))),
        ],
        {},
    ),
    # -- set / with / namespace --------------------------------------------------------------
    (
        "set-plain-and-block",
        "{% set greeting = 'Hi ' ~ user.name %}{% set n = items|length %}"
        "{% set block %}<b>{{ title }}</b> x{{ n }}{% endset %}"
        "{{ greeting }}|{{ n }}|{{ block }}|{{ block|length }}",
        [
            mut(lambda d: d["user"].update(name="<Zed>")),
            mut(lambda d: d["items"].pop()),
            put("title", "&"),
            same(),
        ],
        {},
    ),
    (
        "set-inside-loop",
        "{% for x in items %}{% set full = x.name ~ '/' ~ x.id %}{% set b %}[{{ full }}]"
        "{% endset %}{{ b }}{{ full|upper }}{% endfor %}{{ full is defined }}",
        [
            mut(lambda d: d["items"][1].update(name="TWO")),
            mut(lambda d: d["items"].insert(1, item(5))),
            mut(lambda d: d["items"].reverse()),
        ],
        {},
    ),
    (
        "with",
        "{% with total = items|length, who = user.name %}{{ who }} has {{ total }}"
        "{% with doubled = total * 2 %}({{ doubled }}){% endwith %}{% endwith %}"
        "{% for x in items %}{% with t = x.tags|length %}{{ t }}{% endwith %}{% endfor %}",
        [
            mut(lambda d: d["items"].append(item(4, tags=["q"]))),
            mut(lambda d: d["user"].update(name="Z")),
            mut(lambda d: d["items"][0]["tags"].pop()),
        ],
        {},
    ),
    (
        "namespace",
        "{% set ns = namespace(total=0, names='') %}{% for x in items %}"
        "{% if x.done %}{% set ns.total = ns.total + x.id %}{% endif %}"
        "{% set ns.names = ns.names ~ x.name|first %}{{ ns.total }};{% endfor %}"
        "={{ ns.total }} {{ ns.names }}",
        [
            mut(lambda d: d["items"][0].update(done=True)),
            mut(lambda d: d["items"][1].update(id=20)),
            mut(lambda d: d["items"].reverse()),
            mut(lambda d: d["items"].insert(1, item(100, "x", done=True))),
            same(),
        ],
        {},
    ),
    (
        "set-reassign-and-shadowing",
        "{% set a = count %}{{ a }}{% set a = a ~ title %}{{ a }}"
        "{% for x in items %}{% set a = x.name %}{{ a }}{% endfor %}{{ a }}"
        "{% for title in items|map(attribute='name') %}{{ title }}{% endfor %}{{ title }}"
        "{% for items in rows %}{{ items|length }}{% endfor %}{{ items|length }}"
        "{% with count = flag %}{{ count }}{% endwith %}{{ count }}",
        [
            put("count", 6),
            put("title", "T"),
            mut(lambda d: d["items"][0].update(name="uno")),
            mut(lambda d: d["rows"].append([1, 2, 3])),
            put("flag", False),
            mut(lambda d: d["items"].pop()),
        ],
        {},
    ),
    # -- macros / call / filter block ----------------------------------------------------------
    (
        "macros",
        "{% macro badge(text, kind='info', upper=false) -%}"
        '<span class="{{ kind }}">{{ text|upper if upper else text }}</span>'
        "{%- endmacro %}"
        "{% macro many(sep) %}{{ varargs|join(sep) }}{{ kwargs|dictsort }}{% endmacro %}"
        "{% macro who(greeting=title) %}{{ greeting }} {{ user.name }}{% endmacro %}"
        "{{ badge(title) }}{{ badge(user.name, 'user', upper=true) }}"
        "{{ many('/', count, title, k=flag) }}{{ who() }}"
        "{% for x in items %}{{ badge(x.name, kind=x.id) }}{% endfor %}",
        [
            put("title", "<t>"),
            mut(lambda d: d["user"].update(name="Q")),
            put("count", 1.0),
            mut(lambda d: d["items"][2].update(id=30)),
            put("flag", False),
        ],
        {},
    ),
    (
        "call-block",
        "{% macro wrap(tag='div') %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
        "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
        "{% call wrap('section') %}{{ title }} {{ count }}{% endcall %}"
        "{% call(x) each(items) %}<li>{{ x.name }}</li>{% endcall %}",
        [
            put("title", "T"),
            mut(lambda d: d["items"][0].update(name="uno")),
            mut(lambda d: d["items"].append(item(4))),
            put("count", None),
        ],
        {},
    ),
    (
        "filter-block",
        "{% filter upper %}Hello {{ user.name }} {% for x in items %}{{ x.name }} {% endfor %}"
        "{% endfilter %}|{% filter replace('o', '0') %}{{ title }}{% endfilter %}",
        [
            mut(lambda d: d["user"].update(name="bob")),
            mut(lambda d: d["items"][0].update(name="<odd>")),
            put("title", "foo"),
        ],
        {},
    ),
    # -- whitespace, comments, raw, autoescape ---------------------------------------------------
    (
        "whitespace-control",
        "<ul>\n  {%- for x in items -%}\n    <li>{{- x.name -}}</li>\n  {%- endfor -%}\n</ul>\n"
        "  {%- if flag %}  yes  {% endif -%}  \n{{ title -}}  !",
        [
            mut(lambda d: d["items"].pop(0)),
            put("flag", False),
            put("title", "t"),
        ],
        {},
    ),
    (
        "trim-and-lstrip-blocks",
        "<ul>\n  {% for x in items %}\n    <li>{{ x.name }}</li>\n  {% endfor %}\n</ul>\n"
        "  {% if flag %}\n  yes\n  {% endif %}\n  {%+ if flag %}kept{% endif %}\n",
        [mut(lambda d: d["items"].append(item(4))), put("flag", False), put("items", [])],
        {"options": {"trim_blocks": True, "lstrip_blocks": True}},
    ),
    (
        "keep-trailing-newline",
        "{{ title }}\n{% if flag %}x{% endif %}\n",
        [put("flag", False), put("title", "y")],
        {"options": {"keep_trailing_newline": True, "trim_blocks": True}},
    ),
    (
        "comments-and-raw",
        "{# a comment {{ title }} #}{{ title }}{#- trimmed -#} !"
        "{% raw %}{{ title }} {% if x %}{% endraw %}{{ count }}",
        [put("title", "<x>"), put("count", 6)],
        {},
    ),
    (
        "autoescape-false",
        "{{ title }}|{% autoescape false %}{{ title }}{{ user.name }}"
        "{% for x in items %}{{ x.name }}{% endfor %}{% endautoescape %}|{{ title }}",
        [
            put("title", "<b>&</b>"),
            mut(lambda d: d["items"][0].update(name="<i>")),
            put("title", Markup("<u>")),
        ],
        {},
    ),
    (
        # Jinja2 folds constant expressions at compile time; with ``|e`` inside a ``~`` the
        # folded result is a plain str and is escaped a second time on output.
        "constant-folding",
        "{{ 'x' ~ '<i>'|e }}|{{ '<b>'|safe ~ '<i>' }}|{{ ('a' ~ '<')|upper }}|{{ '<'|e|e }}"
        "|{{ 1 ~ '<' }}|{{ title ~ '<i>'|e }}",
        [put("title", "<t>"), put("title", Markup("<m>"))],
        {},
    ),
    (
        # Included templates and macros keep the autoescape setting of their own definition;
        # caller() bodies written under ``autoescape false`` return plain str, which the macro
        # (autoescaped) then escapes.
        "autoescape-false-include-and-call",
        "page",
        [put("title", "<u>"), mut(lambda d: d["user"].update(name="<n>"))],
        {
            "templates": {
                "page": "{% macro wrap() %}<div>{{ caller() }}</div>{% endmacro %}"
                "{% autoescape false %}{% include 'part' %}"
                "{% call wrap() %}<p>{{ title }}</p>{% endcall %}{% endautoescape %}"
                "{% call wrap() %}<p>{{ title }}</p>{% endcall %}",
                "part": "{{ user|dictsort }}{{ title }}",
            }
        },
    ),
    # -- template sets -------------------------------------------------------------------------
    (
        "include",
        "page",
        [
            put("title", "New"),
            mut(lambda d: d["items"][0].update(name="<one>")),
            mut(lambda d: d["items"].append(item(4))),
            same(),
        ],
        {
            "templates": {
                "page": "<main>{% include 'header' %}{% for x in items %}"
                "{% include 'row' %}{% endfor %}</main>",
                "header": "<h1>{{ title }}</h1>",
                "row": '<li data-key="{{ x.id }}">{{ x.name }}</li>',
            }
        },
    ),
    (
        "extends-block-super",
        "child",
        [
            put("title", "T2"),
            put("count", 7),
            mut(lambda d: d["items"].reverse()),
            put("flag", False),
        ],
        {
            "templates": {
                "base": "<html><head>{% block head %}<title>{{ title }}</title>{% endblock %}"
                "</head><body>{% block body %}base body{% endblock %}"
                "{% block foot %}<footer>{{ count }}</footer>{% endblock %}</body></html>",
                "mid": "{% extends 'base' %}{% block body %}<div>{{ super() }}"
                "{% for x in items %}{{ x.name }}{% endfor %}</div>{% endblock %}",
                "child": "{% extends 'mid' %}{% block head %}{{ super() }}"
                "{% if flag %}<meta>{% endif %}{% endblock %}"
                "{% block body %}[{{ super() }}]{% endblock %}",
            }
        },
    ),
    (
        "include-sees-includer-vars",
        "page",
        [
            mut(lambda d: d["user"].update(name="Q")),
            mut(lambda d: d["items"].insert(0, item(0, "zero"))),
            put("title", "<new>"),
        ],
        {
            "templates": {
                "page": "{% set who = user.name ~ '!' %}{% include 'part' %}"
                "{% for x in items %}{% set n = loop.index %}{% include 'row' %}{% endfor %}",
                "part": "<b>{{ who }}</b>{{ title }}",
                "row": "<li>{{ n }}{{ x.name }}{{ who }}</li>",
            }
        },
    ),
    (
        # The includer sets ``a`` only inside an if; the included template rebinds ``a`` before
        # reading it, so no read depends on the if (found by the property test).
        "include-rebinds-name-set-in-if",
        "page",
        [put("flag", False), put("title", "t2"), put("flag", True)],
        {
            "templates": {
                "page": "{% if flag %}{% set a = 1 %}{{ a }}{% endif %}{% include 'part' %}",
                "part": "{% set a = title ~ '!' %}{{ a }}",
            }
        },
    ),
    (
        "scoped-block-in-loop",
        "child",
        [
            mut(lambda d: d["items"][0].update(name="first")),
            mut(lambda d: d["items"].append(item(4))),
            put("title", "t2"),
        ],
        {
            "templates": {
                "base": "{% for x in items %}<li>{% block row scoped %}{{ x.name }}{% endblock %}"
                "</li>{% endfor %}{% block t %}{{ title }}{% endblock %}",
                "child": "{% extends 'base' %}{% block row %}[{{ super() }}:{{ x.id }}]"
                "{% endblock %}",
            }
        },
    ),
    (
        "import-macros",
        "page",
        [put("title", "x"), mut(lambda d: d["items"].pop())],
        {
            "templates": {
                "macros": "{% macro li(x) %}<li>{{ x.name }}</li>{% endmacro %}",
                "page": "{% import 'macros' as m %}{% from 'macros' import li %}"
                "{{ title }}{% for x in items %}{{ m.li(x) }}{{ li(x) }}{% endfor %}",
            }
        },
    ),
    # -- stateful helpers and loop state ------------------------------------------------------
    (
        "cycler-joiner",
        "{% set c = cycler('odd', 'even') %}{% set j = joiner(', ') %}"
        '{% for x in items %}{{ j() }}<i class="{{ c.next() }}">{{ x.name }}</i>{% endfor %}'
        "{{ c.current }}",
        [
            mut(lambda d: d["items"].insert(0, item(0))),
            mut(lambda d: d["items"].pop()),
            mut(lambda d: d["items"][0].update(name="z")),
            same(),
        ],
        {},
    ),
    (
        "loop-changed-previtem",
        "{% for x in items %}{% if loop.changed(x.done) %}<h2>{{ x.done }}</h2>{% endif %}"
        "{{ x.name }}<{{ loop.previtem.name if loop.previtem else '-' }}>"
        "<{{ loop.nextitem.name if loop.nextitem else '-' }}>{% endfor %}",
        [
            mut(lambda d: d["items"][0].update(done=True)),
            mut(lambda d: d["items"][1].update(name="TWO")),
            mut(lambda d: d["items"].insert(1, item(5, done=True))),
            mut(lambda d: d["items"].reverse()),
        ],
        {},
    ),
    (
        "undefined-names",
        "[{{ title }}|{{ count|default('none') }}|{{ label is defined }}]"
        "{% if flag is defined %}{{ flag }}{% endif %}",
        [
            mut(lambda d: d.pop("title")),
            mut(lambda d: d.pop("count")),
            mut(lambda d: d.pop("label")),
            put("count", 3),
            put("title", "back"),
            mut(lambda d: d.pop("flag")),
            same(),
        ],
        {},
    ),
    # -- the rest of Jinja2: recursion, self, names set in if, dynamic inheritance -------------
    (
        "macro-calls-itself",
        "{% macro countdown(n) %}{{ n }}{% if n > 1 %}|{{ countdown(n - 1) }}{% endif %}"
        "{% endmacro %}{{ countdown(count) }}"
        "{% macro tree(nodes) %}<ul>{% for c in nodes %}<li>{{ c.name }}{{ tree(c.tags) if c.tags }}"
        "</li>{% endfor %}</ul>{% endmacro %}{{ tree(items) }}",
        [
            put("count", 3),
            mut(lambda d: d["items"][0]["tags"].append({"name": "<deep>", "tags": []})),
            mut(lambda d: d["items"][0].update(name="renamed")),
            put("count", 1),
            same(),
        ],
        {},
    ),
    (
        "macro-in-for-calls-itself",
        "{% for x in items %}{% macro down(n) %}{{ n }}{{ x.name }}{% if n > 0 %},{{ down(n - 1) }}"
        "{% endif %}{% endmacro %}<li>{{ down(x.id) }}</li>{% endfor %}",
        [
            mut(lambda d: d["items"][1].update(name="TWO")),
            mut(lambda d: d["items"].append(item(4))),
            mut(lambda d: d["items"].pop(0)),
        ],
        {},
    ),
    (
        "self-as-keyword",
        "{{ dict(self=count).self }}{% set ns = namespace(self=title) %}{{ ns.self }}"
        "{{ dict(S=1, obj=2)|length }}",
        [put("count", 9), put("title", "<t>"), same()],
        {},
    ),
    (
        "recursive-loop",
        "<ul>{% for c in items recursive %}<li>{{ c.name }}@{{ loop.depth }}/{{ loop.index }}"
        "{% if c.tags %}<ul>{{ loop(c.tags) }}</ul>{% endif %}{{ title }}</li>"
        "{% else %}<em>none</em>{% endfor %}</ul>",
        [
            put("items", [{"name": "a", "tags": [{"name": "b", "tags": [{"name": "c"}]}]}]),
            mut(lambda d: d["items"][0]["tags"][0]["tags"].append({"name": "<d>", "tags": []})),
            put("title", "T"),
            mut(lambda d: d["items"].append({"name": "e", "tags": []})),
            put("items", []),
            same(),
        ],
        {},
    ),
    (
        "recursive-loop-keyed-with-filter",
        '{% for c in items if c.name != "skip" recursive %}<li data-key="{{ c.name }}">'
        "{{ loop.depth0 }}{{ loop(c.tags) if c.tags else '' }}</li>{% endfor %}",
        [
            put("items", [{"name": "a", "tags": [{"name": "skip", "tags": []},
                                                 {"name": "b", "tags": []}]}]),
            mut(lambda d: d["items"].insert(0, {"name": "z", "tags": []})),
            mut(lambda d: d["items"][1]["tags"].pop()),
        ],
        {},
    ),
    (
        "set-in-if-read-after",
        "{% if flag %}{% set x = title %}{% elif count > 3 %}{% set x = count %}"
        "{% if label == '1' %}{% set x = x ~ '!' %}{% endif %}{% endif %}[{{ x }}]"
        "{% for i in items %}{% if i.done %}{% set mark = 'X' %}{% else %}{% set mark = i.id %}"
        "{% endif %}<li>{{ mark }}{{ i.name }}</li>{% endfor %}"
        "{% set y = 1 %}{% if count > 4 %}{% set y = y + count %}{% endif %}{{ y }}",
        [
            put("flag", False),
            put("count", 2),
            put("x", "<outer>"),
            put("count", 9),
            put("label", "2"),
            mut(lambda d: d["items"][0].update(done=True)),
            put("title", "t2"),
            put("flag", True),
            same(),
        ],
        {},
    ),
    (
        # The key attribute reads a name set in an if: the loop is keyed by position then
        # (a key is evaluated ahead by running only the bindings before it).
        "set-in-if-is-the-key",
        "{% for t in items %}{% set k = t.id %}{% if t.done %}{% set k = t.id * 10 %}{% endif %}"
        '<li id="{{ k }}">{{ t.name }}</li>{% endfor %}',
        [
            mut(lambda d: d["items"][0].update(done=True)),
            mut(lambda d: d["items"].insert(0, item(7, done=True))),
            mut(lambda d: d["items"].reverse()),
            mut(lambda d: d["items"].insert(2, d["items"].pop(0))),
            mut(lambda d: [x.update(done=not x["done"]) for x in d["items"]]),
        ],
        {},
    ),
    (
        "namespace-tuple-assignment",
        "{% set ns = namespace(a=0, b=0) %}{% for x in items %}"
        "{% set ns.a, ns.b = ns.b, ns.a + x.id %}{% endfor %}{{ ns.a }},{{ ns.b }}",
        [
            mut(lambda d: d["items"].append(item(7))),
            mut(lambda d: d["items"][0].update(id=10)),
            same(),
        ],
        {},
    ),
    (
        "unknown-filter-and-test-never-run",
        "{% if flag and false %}{{ title|no_such_filter }}{% endif %}"
        "{% if count > 100 %}{{ 1 if title is no_such_test }}{% endif %}ok{{ count }}",
        [put("count", 6), put("flag", False), same()],
        {},
    ),
    (
        "self-block",
        "page",
        [put("title", "Second <title>"), put("count", 2), same()],
        {
            "templates": {
                "base": "<title>{% block title %}Site{% endblock %}</title>"
                "<h1>{{ self.title() }}</h1>{% block body %}{% endblock %}",
                "page": "{% extends 'base' %}{% block title %}{{ title }} {{ super() }}"
                "{% endblock %}{% block body %}{{ count }}|{{ self.title()|length }}{% endblock %}",
            }
        },
    ),
    (
        "extends-in-if",
        "page",
        [put("flag", False), put("title", "t2"), put("flag", True), same()],
        {
            "templates": {
                "wide": "<div class='wide'>{% block body %}{% endblock %}</div>",
                "narrow": "<p>{% block body %}{% endblock %}{{ count }}</p>",
                "page": "{% if flag %}{% extends 'wide' %}{% else %}{% extends 'narrow' %}"
                "{% endif %}{% block body %}{{ title }}{% endblock %}",
            }
        },
    ),
    (
        "autoescape-off",
        "<p>{{ title }}</p>{% for x in items %}{{ x.name }}{% endfor %}{{ '<b>'|e }}"
        "{% set s %}<i>{{ title }}</i>{% endset %}{{ s }}{{ title|upper }}"
        "{% macro m(v) %}<m>{{ v }}</m>{% endmacro %}{{ m(title) }}"
        "{% autoescape true %}{{ title }}{% endautoescape %}",
        [
            put("title", "<script>&amp;"),
            mut(lambda d: d["items"][0].update(name="<b>")),
            put("title", Markup("<ok>")),
            same(),
        ],
        {"options": {"autoescape": False}},
    ),
    # -- data replaced wholesale ------------------------------------------------------------------
    (
        "fresh-data",
        '{{ title }}{% for x in items %}<li data-key="{{ x.id }}">{{ x.name }}</li>{% endfor %}'
        "{{ user.name }}{{ mapping }}",
        [fresh(), fresh(title="t"), deep_copy(), fresh(items=[]), fresh(mapping={"z": 1})],
        {},
    ),
]


@pytest.mark.parametrize("use_changed", [False, True], ids=["no-changed", "changed"])
@pytest.mark.parametrize(
    ("source", "steps", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_construct(
    source: str, steps: list[Step], kwargs: dict[str, Any], use_changed: bool
) -> None:
    check_live(source, base(), steps, use_changed=use_changed, **kwargs)


def test_changed_hint_with_in_place_mutation() -> None:
    """``changed`` names a top-level key whose *contents* changed in place."""
    tpl = lt_engine.Environment().from_string(
        "{{ title }}{% for x in items %}{{ x.name }}{{ x.done }}{% endfor %}"
    )
    data = base()
    m = tpl.mount(data)
    data["items"][0]["done"] = True
    u = m.update(data, changed={"items"})
    assert u != {}
    assert m.html() == jinja2.Environment(autoescape=True).from_string(
        "{{ title }}{% for x in items %}{{ x.name }}{{ x.done }}{% endfor %}"
    ).render(data)
    assert m.update(data, changed=set()) == {}
    assert m.update(data) == {}


@dataclasses.dataclass
class Todo:
    """User data as objects rather than dicts: attributes mutated in place."""

    id: int
    name: str
    done: bool = False
    tags: list[str] = dataclasses.field(default_factory=list)


OBJECT_TEMPLATE = (
    '{% for t in todos %}<li data-key="{{ t.id }}">{{ t.name }}{% if t.done %} (done){% endif %}'
    "{{ t.tags|join(',') }}</li>{% endfor %}{{ todos|selectattr('done')|list|length }}"
)


@pytest.mark.parametrize("use_changed", [False, True], ids=["no-changed", "changed"])
def test_objects_mutated_in_place(use_changed: bool) -> None:
    def start(d: dict[str, Any]) -> dict[str, Any]:
        return {"todos": [Todo(1, "a"), Todo(2, "<b>"), Todo(3, "c", tags=["x"])]}

    def on_todo(i: int, **attrs: Any) -> Step:
        def step(d: dict[str, Any]) -> dict[str, Any]:
            for k, v in attrs.items():
                setattr(d["todos"][i], k, v)
            return d

        return step

    steps = [
        on_todo(0, done=True),
        on_todo(1, name="B"),
        mut(lambda d: d["todos"][2].tags.append("y")),
        mut(lambda d: d["todos"].insert(0, Todo(9, "new"))),
        on_todo(0, id=10),
        same(),
    ]
    check_live(OBJECT_TEMPLATE, start({}), steps, use_changed=use_changed)


def test_two_mounts_of_one_template_are_independent() -> None:
    """Per-page state lives in the mount, not in the template."""
    source = (
        '{{ title }}{% for x in items %}<li data-key="{{ x.id }}">{{ x.name }}</li>{% endfor %}'
    )
    tpl = lt_engine.Environment().from_string(source)
    oracle = jinja2.Environment(autoescape=True).from_string(source)
    d1, d2 = base(), base()
    d2["items"].reverse()
    m1, m2 = tpl.mount(d1), tpl.mount(d2)
    t1 = _via_json(m1.tree, "tree1")
    t2 = _via_json(m2.tree, "tree2")
    for mutate in (
        lambda: d1["items"].append(item(7)),
        lambda: d2.update(title="two"),
        lambda: d1["items"][0].update(name="one!"),
        lambda: d2["items"].pop(0),
    ):
        mutate()
        t1 = lt_engine.apply_update(t1, _via_json(m1.update(d1), "u1"))
        t2 = lt_engine.apply_update(t2, _via_json(m2.update(d2), "u2"))
        assert lt_engine.to_html(copy.deepcopy(t1)) == m1.html() == oracle.render(d1)
        assert lt_engine.to_html(copy.deepcopy(t2)) == m2.html() == oracle.render(d2)
