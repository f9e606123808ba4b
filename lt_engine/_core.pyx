# cython: language_level=3, cdivision=True
"""The engine's core: render, change-tracked update and minimal diff of a slot tree.

How a page stays live
---------------------
A compiled template is a tree of :class:`NodeDesc`: static strings with dynamic slots between
them.  A slot is an expression (:class:`ExprDesc`), a branch (:class:`IfDesc`), a range
(:class:`ForDesc`) or a for-else (:class:`ElseDesc`).  Mounting renders the tree once and keeps,
per node, the slot values the client holds (:class:`NodeState`) and, per scope instance (the top
level and each range item), the *leaves*: the values of the data paths the code reads
(``todo.title``, ``count``).

An update re-reads the leaves and compares them type-strictly (``1`` vs ``True``, ``5`` vs
``5.0``) into a bit mask per scope level.  Each slot carries the masks of the leaves it depends
on; only slots whose masks intersect the change are re-evaluated, and a range item whose leaves
did not change is skipped without evaluating anything.  A leaf that holds a mutable object
(a list, a dict, a user object) cannot be trusted by identity, so it always counts as changed:
that is how in-place mutation (``todos[3]["done"] = True``) is found — the loop over ``todos``
re-reads each item's leaves, and only the toggled row differs.

Ranges are diffed by key into the fewest ops: remove, update, append, prepend, insert,
reorder — or a full replacement when that is smaller.  A key is the value of the item's key
attribute (``data-key="{{ t.id }}"``, ``id="todo-{{ t.id }}"``: see :func:`lt_engine.wire.
key_attribute`); an item of a loop without one keeps the number it was first rendered with, its
identity is its position, and moved items are told by identity or content (``_unkeyed.pxi``).
Rows may be dicts or objects: attribute reads go through C either way.  The key names of the
wire format come from :mod:`lt_engine.wire`.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_GetItemWithError
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_GET_LENGTH

import json
from array import array as _array

from jinja2 import Environment as _JinjaEnvironment, Undefined
from jinja2.runtime import new_context as _new_context
from markupsafe import Markup, escape as _mk_escape

cimport cython
from libc.math cimport copysign

from .tracked import MAPPING_ATTRS, TrackedDict, TrackedList
from .wire import (
    KEY, ITEMS, META, ID_KEY, STATICS, STREAM,
    OP_APPEND, OP_INSERT, OP_PREPEND, OP_REMOVE, OP_REORDER, OP_UPDATE,
)
from .wire import apply_ops as _apply_wire_ops
from .components import (
    component_data as _component_data, mount_of as _component_mount,
    render_component as _render_component,
)
from .streams import (
    Stream as _Stream, APPEND as _S_APPEND, PREPEND as _S_PREPEND, UPDATE as _S_UPDATE,
    DELETE as _S_DELETE, RESET as _S_RESET,
)

cdef extern from "Python.h":
    # the raw C call: borrowed result, NULL when missing (or on error, see PyErr_Occurred)
    PyObject* dict_lookup "PyDict_GetItemWithError"(PyObject* mapping, PyObject* key)
    PyObject* PyErr_Occurred()
    # a new reference, or NULL with an exception set
    PyObject* raw_getattr "PyObject_GetAttr"(PyObject* obj, PyObject* name)
    void PyErr_Clear()
    void Py_DECREF(PyObject* obj)
    void Py_XDECREF(PyObject* obj)
    void Py_XINCREF(PyObject* obj)
    # where an object keeps its __dict__ (made first if it has only inline values), or NULL;
    # never raises (Cython's own utility code relies on it as well)
    PyObject** _PyObject_GetDictPtr(PyObject* obj)
    PyObject* PyObject_GenericGetAttr(PyObject* obj, PyObject* name)
    # the attribute of a type along its MRO, no descriptor called: borrowed, or NULL
    PyObject* _PyType_Lookup(PyTypeObject* tp, PyObject* name)
    ctypedef PyObject* (*getattrofunc)(PyObject*, PyObject*)
    ctypedef int (*descrsetfunc)(PyObject*, PyObject*, PyObject*)
    ctypedef struct PyTypeObject:
        getattrofunc tp_getattro
        descrsetfunc tp_descr_set
        Py_ssize_t tp_dictoffset
    PyTypeObject* Py_TYPE(PyObject* obj)

cdef extern from *:
    """
    /* A dict's version (PEP 509): globally unique, and changed by every change of the dict, so
       an item whose dict still has the version seen when its leaves were last read has the same
       leaves.  The field is CPython's and only means that on 3.10 to 3.12 (deprecated in 3.12,
       no longer a version in 3.14); elsewhere 0, which turns the shortcut off.  */
    #if !defined(PYPY_VERSION) && PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030D0000
    #if defined(__GNUC__)
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    #endif
    static inline unsigned long long lt_dict_stamp(PyObject *d) {
        return (unsigned long long)((PyDictObject *)d)->ma_version_tag;
    }
    #if defined(__GNUC__)
    #pragma GCC diagnostic pop
    #endif
    #else
    static inline unsigned long long lt_dict_stamp(PyObject *d) { (void)d; return 0; }
    #endif
    """
    unsigned long long lt_dict_stamp(PyObject* d)



cdef enum:
    LEAF_OTHER = 0
    LEAF_ITEM = 1  # the loop item itself
    LEAF_DICT_KEY = 2  # item["key"] where key is no dict attribute
    LEAF_LOOP = 3  # loop.index and friends
    LEAF_ATTR = 4  # item.key where key is no dict attribute: a dict key, or an object's attribute

cdef int K_EXPR = 0
cdef int K_IF = 1
cdef int K_FOR = 2
cdef int K_ELSE = 3
cdef int K_BIND = 4
cdef int K_EFFECT = 5

# Loop position leaves (see scope.LOOP_POSITION_ATTRS).
LOOP_ATTR_CODES = {
    "index": 1, "index0": 2, "revindex": 3, "revindex0": 4, "first": 5, "last": 6,
    "length": 7, "depth": 8, "depth0": 9,
}

DICT_ATTRS = MAPPING_ATTRS
SLOT_KEYS = tuple(str(i) for i in range(1024))


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


# A leaf that could not be read (undefined, or its path raised).  Stable: equal to itself.
MISSING = _Sentinel("MISSING")
# A leaf holding a mutable object: never equal to anything, so it always counts as changed.
UNSTABLE = _Sentinel("UNSTABLE")

cdef object _MISSING = MISSING
cdef object _NOATTR = _Sentinel("NOATTR")
cdef object _UNSTABLE = UNSTABLE
cdef type _Markup = Markup
cdef type _Undefined = Undefined  # exactly jinja2's: renders as "" (subclasses may not)
cdef type _FunctionType = type(lambda: None)
cdef type _BuiltinType = type(len)
cdef type _TrackedDict = TrackedDict
cdef type _TrackedList = TrackedList


cdef inline bint plain_dict(object obj):
    """A dict whose item lookup and attributes are the built-in ones."""
    return type(obj) is dict or type(obj) is _TrackedDict

# ---------------------------------------------------------------------------------------------
# Objects' attributes in C
#
# jinja2 reads ``x.name`` as ``getattr(x, name)``, then ``x[name]``, then Undefined.  For the
# objects rows are usually made of (dataclasses, plain and slotted objects, named tuples, attrs
# and pydantic models, ORM rows) the first step succeeds, and doing it from C instead of through
# ``Environment.getattr`` is most of the cost of a scan.  Properties and descriptors still run.
# Whenever the C read raises, the caller takes jinja2's own path, so only the speed differs.

cdef object _jinja_getattr = _JinjaEnvironment.getattr
cdef object _attr_env_type = None
cdef bint _attr_env_fast = False


cdef inline bint fast_attrs(object env):
    """Whether ``env`` reads attributes as jinja2 itself does (a sandbox or an override of
    ``getattr`` keeps its own rules, and its own slow path)."""
    global _attr_env_type, _attr_env_fast
    cdef object t = type(env)
    if t is not _attr_env_type:
        _attr_env_fast = getattr(t, "getattr", None) is _jinja_getattr
        _attr_env_type = t
    return _attr_env_fast


cdef inline object obj_attr(object obj, object name):
    """``getattr(obj, name)``, or NOATTR when that raises (then ask jinja2)."""
    cdef PyObject* found = raw_getattr(<PyObject*>obj, <PyObject*>name)
    if found == NULL:
        PyErr_Clear()
        return _NOATTR
    value = <object>found
    Py_DECREF(found)
    return value


cdef inline object slot_key(Py_ssize_t i):
    if i < 1024:
        return SLOT_KEYS[i]
    return str(i)


# The core is one extension module, written in parts (one concept a file):
include "_descriptors.pxi"
include "_state.pxi"
include "_leaves.pxi"
include "_render.pxi"
include "_trees.pxi"
include "_update.pxi"
include "_ranges.pxi"
include "_streams.pxi"
include "_components.pxi"
include "_unkeyed.pxi"
include "_access.pxi"
include "_stamps.pxi"


# ---------------------------------------------------------------------------------------------
# The live page


cdef class Mount:
    """One live render of a template: the tree the client holds, and how to update it."""

    cdef public TemplateDesc template
    cdef public NodeState state
    cdef public tuple leaves
    cdef public object shown_at  # a component's: (page mount, path there), see find_path

    def __init__(self, TemplateDesc template, data):
        self.template = template
        cdef list frame = template.top_frame(data)
        cdef list S = [frame]
        self.state = render_state(template.root, S, None)
        self.leaves = read_leaves(template.leaves, None, -1, frame, 0, 1, frame[0].env)

    @property
    def tree(self):
        """The full tree, statics included: what a client receives on (re)connect."""
        return node_tree(self.state)

    def html(self):
        """The current HTML, equal to jinja2's rendering of the last data."""
        cdef list parts = []
        state_html(self.state, parts)
        return "".join(parts)

    def update(self, data, changed=None):
        """Advance to ``data`` and return the minimal update (``{}`` when nothing changed).

        ``changed`` is an optional collection of the top-level names that may have changed;
        leaves under any other name are trusted to be unchanged and not re-read.
        """
        cdef TemplateDesc t = self.template
        cdef list frame = t.top_frame(data)
        cdef list S = [frame]
        cdef tuple new_leaves
        cdef list leaves
        cdef Py_ssize_t k
        cdef object mask
        if changed is None:
            new_leaves = read_leaves(t.leaves, None, -1, frame, 0, 1, frame[0].env)
            mask = diff_leaves(self.leaves, new_leaves)
        else:
            # Leaves under other names are trusted unchanged (even lists and dicts): not re-read.
            changed = changed if isinstance(changed, (set, frozenset, dict)) else set(changed)
            leaves = list(self.leaves)
            mask = 0
            for k in range(len(leaves)):
                if t.leaf_names[k] in changed:
                    leaves[k] = current_leaf(<LeafDesc>t.leaves[k], None, -1, frame, 0, 1,
                                             frame[0].env)
                    if not same_leaf(self.leaves[k], leaves[k]):
                        mask |= 1 << k
            new_leaves = tuple(leaves)
        self.leaves = new_leaves
        cdef list CH = [mask]
        if not (t.root.volatile or affected(t.root.masks, CH)):
            return {}
        result = update_state(t.root, self.state, S, CH)
        if result is None:
            return {}
        return result

    def shows(self, Mount component):
        """Whether this mount's tree holds ``component``'s root node (lt_engine.components)."""
        return find_path(self, component) is not None

    def component_update(self, Mount component, data):
        """``component.update(data)``, addressed to where this mount's tree holds it: an update
        of this tree ({} when nothing changed).  LookupError when it holds no such node."""
        path = find_path(self, component)
        if path is None:
            raise LookupError("the page does not show this component")
        change = component.update(data)
        return wrap_change(path, change) if change else {}
