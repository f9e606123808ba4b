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

Ranges are diffed by key (the value after ``data-key="``/``id="``/…, else a content hash) into
the fewest ops: remove, update, append, prepend, insert, reorder — or a full replacement when
that is smaller.  The key names of the wire format come from :mod:`lt_engine.wire`.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_GetItemWithError
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_GET_LENGTH

import json

from jinja2 import Undefined
from markupsafe import Markup, escape as _mk_escape

cimport cython
from libc.math cimport copysign

from .tracked import MAPPING_ATTRS, TrackedDict, TrackedList, shared_epoch
from .wire import (
    KEY, ITEMS, META, ID_KEY, STATICS,
    OP_APPEND, OP_INSERT, OP_PREPEND, OP_REMOVE, OP_REORDER, OP_UPDATE,
)

cdef extern from "Python.h":
    # the raw C call: borrowed result, NULL when missing (or on error, see PyErr_Occurred)
    PyObject* dict_lookup "PyDict_GetItemWithError"(PyObject* mapping, PyObject* key)
    PyObject* PyErr_Occurred()


cdef enum:
    LEAF_OTHER = 0
    LEAF_ITEM = 1  # the loop item itself
    LEAF_DICT_KEY = 2  # item.key / item["key"] where key is no dict attribute
    LEAF_LOOP = 3  # loop.index and friends

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
cdef object _UNSTABLE = UNSTABLE
cdef type _Markup = Markup
cdef type _FunctionType = type(lambda: None)
cdef type _BuiltinType = type(len)
cdef type _TrackedDict = TrackedDict
cdef type _TrackedList = TrackedList


cdef inline bint plain_dict(object obj):
    """A dict whose item lookup and attributes are the built-in ones."""
    return type(obj) is dict or type(obj) is _TrackedDict

cdef inline object slot_key(Py_ssize_t i):
    if i < 1024:
        return SLOT_KEYS[i]
    return str(i)


# ---------------------------------------------------------------------------------------------
# Descriptors (built by generated code, see codegen.py)


cdef class Entry:
    cdef public int kind
    cdef public Py_ssize_t index
    cdef public tuple masks
    cdef public bint volatile


cdef class ExprDesc(Entry):
    cdef public object fn
    cdef public bint escape
    cdef public Py_ssize_t same_as  # an earlier slot of the node with the same code, or -1

    def __init__(self, Py_ssize_t index, fn, tuple masks, bint volatile, bint escape,
                 Py_ssize_t same_as=-1):
        self.kind = K_EXPR
        self.index = index
        self.fn = fn
        self.masks = masks
        self.volatile = volatile
        self.escape = escape
        self.same_as = same_as


cdef class IfDesc(Entry):
    cdef public tuple tests
    cdef public tuple branches

    def __init__(self, Py_ssize_t index, tuple tests, tuple branches, tuple masks,
                 bint volatile):
        self.kind = K_IF
        self.index = index
        self.tests = tests
        self.branches = branches
        self.masks = masks
        self.volatile = volatile


cdef class LeafDesc:
    cdef public Py_ssize_t root
    cdef public tuple steps  # ((kind, key, fast), ...)
    cdef public int loop_attr
    # the first step, unpacked: most leaves are one step from their root (``todo.title``)
    cdef Py_ssize_t nsteps
    cdef int kind0
    cdef object key0
    cdef bint fast0

    def __init__(self, Py_ssize_t root, tuple steps, loop_attr=None):
        self.root = root
        self.steps = tuple(
            (kind, key, isinstance(key, str) and key not in DICT_ATTRS) for kind, key in steps
        )
        self.loop_attr = LOOP_ATTR_CODES[loop_attr] if loop_attr else 0
        self.nsteps = len(steps)
        if self.nsteps:
            self.kind0, self.key0, self.fast0 = self.steps[0]


cdef class ForDesc(Entry):
    cdef public object iter_fn
    cdef public object target_fn
    cdef public Py_ssize_t target_reg
    cdef public object filter_fn
    cdef public Py_ssize_t frame_size
    cdef public Py_ssize_t loop_reg
    cdef public NodeDesc body
    cdef public tuple leaves
    cdef public bint sequential
    cdef public tuple body_outer
    cdef public Py_ssize_t key_slot
    cdef public object key_mask  # leaves (this level) the key slot depends on
    cdef unsigned long long key_mask_c  # the same, as an item mask (see item_mask_fast)
    cdef public tuple key_outer  # outer masks of the key slot
    cdef public Py_ssize_t level
    cdef public object loop_factory
    cdef public tuple key_prefix  # bindings the key slot may read, run before it
    cdef public bint by_identity  # the body reads only the item itself (and loop positions)
    cdef public bint uses_length  # some leaf depends on the loop's length (last, revindex, …)
    # The leaves as C arrays for the per-item scan: LEAF_* code, and the dict key or loop attr.
    cdef int* lcode
    cdef PyObject** lkey
    cdef int* lattr
    cdef Py_ssize_t nleaves

    def __init__(self, Py_ssize_t index, Py_ssize_t level, iter_fn, target_fn,
                 Py_ssize_t target_reg, filter_fn, Py_ssize_t frame_size, Py_ssize_t loop_reg,
                 NodeDesc body, tuple leaves, bint sequential, tuple masks, tuple body_outer,
                 bint volatile, Py_ssize_t key_slot, loop_factory):
        self.kind = K_FOR
        self.index = index
        self.level = level
        self.iter_fn = iter_fn
        self.target_fn = target_fn
        self.target_reg = target_reg
        self.filter_fn = filter_fn
        self.frame_size = frame_size
        self.loop_reg = loop_reg
        self.body = body
        self.leaves = leaves
        self.sequential = sequential
        self.masks = masks
        self.body_outer = body_outer
        self.volatile = volatile
        self.key_slot = key_slot
        self.loop_factory = loop_factory
        self.key_mask = 0
        self.key_outer = ()
        prefix = []
        for entry in body.program:
            if entry.kind == K_BIND:
                prefix.append(entry)
            elif entry.kind <= K_ELSE and entry.index == key_slot:
                break
        self.key_prefix = tuple(prefix)
        self.nleaves = len(leaves)
        self.uses_length = any((<LeafDesc>leaf).loop_attr in (3, 4, 6, 7) for leaf in leaves)
        self.lcode = <int*>PyMem_Malloc(max(self.nleaves, 1) * sizeof(int))
        self.lattr = <int*>PyMem_Malloc(max(self.nleaves, 1) * sizeof(int))
        self.lkey = <PyObject**>PyMem_Malloc(max(self.nleaves, 1) * sizeof(PyObject*))
        if not self.lcode or not self.lattr or not self.lkey:
            raise MemoryError()
        cdef LeafDesc leaf
        cdef Py_ssize_t k
        for k in range(self.nleaves):
            leaf = <LeafDesc>leaves[k]
            self.lattr[k] = leaf.loop_attr
            self.lkey[k] = NULL
            if leaf.loop_attr:
                self.lcode[k] = LEAF_LOOP
            elif leaf.root == target_reg and leaf.nsteps == 0:
                self.lcode[k] = LEAF_ITEM
            elif leaf.root == target_reg and leaf.nsteps == 1 and leaf.fast0:
                self.lcode[k] = LEAF_DICT_KEY
                self.lkey[k] = <PyObject*>leaf.key0  # kept alive by self.leaves
            else:
                self.lcode[k] = LEAF_OTHER
        self.by_identity = (
            target_reg >= 0 and filter_fn is None and not sequential and bool(leaves)
            and all((<LeafDesc>leaf).loop_attr or ((<LeafDesc>leaf).root == target_reg
                                                   and (<LeafDesc>leaf).nsteps == 0)
                    for leaf in leaves)
        )
        if key_slot >= 0:
            key_desc = body.slots[key_slot]
            for level_, mask in key_desc.masks:
                if level_ == level:
                    self.key_mask = mask
            self.key_mask_c = (self.key_mask & ((1 << 63) - 1)) | (
                HIGH_BIT if self.key_mask >> 63 else 0)
            self.key_outer = tuple((lv, m) for lv, m in key_desc.masks if lv != level)


    def __dealloc__(self):
        PyMem_Free(self.lcode)
        PyMem_Free(self.lattr)
        PyMem_Free(self.lkey)


cdef class ElseDesc(Entry):
    cdef public NodeDesc body

    def __init__(self, Py_ssize_t index, NodeDesc body):
        self.kind = K_ELSE
        self.index = index
        self.body = body
        self.masks = body.masks
        self.volatile = body.volatile


cdef class BindDesc(Entry):
    cdef public Py_ssize_t level
    cdef public Py_ssize_t reg
    cdef public object fn

    def __init__(self, Py_ssize_t level, Py_ssize_t reg, fn):
        self.kind = K_BIND
        self.level = level
        self.reg = reg
        self.fn = fn


cdef class EffectDesc(Entry):
    cdef public object fn

    def __init__(self, fn):
        self.kind = K_EFFECT
        self.fn = fn


cdef class NodeDesc:
    cdef public tuple statics
    cdef public list statics_list
    cdef public tuple program
    cdef public tuple slots
    cdef public Py_ssize_t nslots
    cdef public tuple masks  # what anything inside reads (for skipping the whole node)
    cdef public bint volatile
    cdef public object id

    def __init__(self, tuple statics, tuple program, tuple masks, bint volatile, node_id=0):
        self.statics = statics
        self.statics_list = list(statics)
        self.program = program
        self.slots = tuple(e for e in program if e.kind <= K_ELSE)
        self.nslots = len(self.slots)
        self.masks = masks
        self.volatile = volatile
        self.id = node_id


cdef class TemplateDesc:
    cdef public NodeDesc root
    cdef public tuple top_names  # ((register, name), ...) of the top frame
    cdef public Py_ssize_t top_frame_size
    cdef public tuple leaves
    cdef public tuple leaf_names  # top-level name of each top leaf (for `changed`)
    cdef public object runtime
    cdef public str name

    def __init__(self, NodeDesc root, tuple top_names, Py_ssize_t top_frame_size, tuple leaves,
                 runtime, str name):
        self.root = root
        self.top_names = top_names
        self.top_frame_size = top_frame_size
        self.leaves = leaves
        self.runtime = runtime
        self.name = name
        names = dict(top_names)
        self.leaf_names = tuple(names[(<LeafDesc>leaf).root] for leaf in leaves)

    cpdef list top_frame(self, data):
        """Frame 0: the runtime box (data, lazy jinja2 context), then each top-level name."""
        cdef list frame = [None] * self.top_frame_size
        frame[0] = self.runtime.box(data)
        resolve = self.runtime.resolve
        for reg, name in self.top_names:
            frame[reg] = resolve(data, name)
        return frame

    def render(self, data):
        cdef list S = [self.top_frame(data)]
        cdef list parts = []
        render_html(self.root, S, parts)
        return "".join(parts)

    def mount(self, data):
        return Mount(self, data)


# ---------------------------------------------------------------------------------------------
# State


# State objects hold no references back up the tree, so they can never be part of a cycle:
# keeping them out of the cyclic GC saves memory and collection time on big pages.
@cython.no_gc
cdef class NodeState:
    cdef public NodeDesc desc
    cdef public list vals


@cython.no_gc
cdef class ItemState(NodeState):
    cdef public object key
    cdef public bint explicit  # the key is not the value of the key slot: sent as "_k"
    cdef public Py_ssize_t pos  # index in its range, as of the last update
    cdef unsigned long long claim  # the update (see _generation) that gave it a position


@cython.no_gc
cdef class RangeState:
    cdef public list items
    cdef public dict by_key  # key -> ItemState, built when an update first needs it
    # the leaves of every item, item after item (nleaves each): one contiguous scan per update
    cdef public list leaves
    cdef public list snap  # for by-identity ranges: each item, or UNSTABLE when mutable
    # for ranges over a TrackedList: the list, its version and the shared epoch last seen
    cdef public object tracked
    cdef public Py_ssize_t seen
    cdef public Py_ssize_t epoch


# ---------------------------------------------------------------------------------------------
# Values


cdef inline bint is_stable_type(object v):
    cdef type t = type(v)
    return (t is str or t is int or t is bool or t is float or v is None or t is _Markup
            or t is _FunctionType or t is _BuiltinType or v is _MISSING)


cdef inline object leaf_value(object v):
    if is_stable_type(v):
        return v
    if isinstance(v, Undefined):
        return _MISSING
    return _UNSTABLE


cdef inline bint same_leaf(object a, object b):
    if a is _UNSTABLE or b is _UNSTABLE:
        return False
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is float:
        # 0.0 == -0.0, yet they print differently
        return a == b and copysign(1.0, a) == copysign(1.0, b)
    return a == b


cdef str escape_str(str s):
    """markupsafe.escape for an exact str, returning ``s`` itself when nothing needs escaping."""
    cdef Py_UCS4 ch
    for ch in s:
        if ch == u'&' or ch == u'<' or ch == u'>' or ch == u'"' or ch == u"'":
            return str(_mk_escape(s))
    return s


cdef inline object to_out(object v, bint esc):
    cdef type t = type(v)
    if t is str:
        return escape_str(<str>v) if esc else v
    if t is int:
        return str(v)
    if esc:
        return str(_mk_escape(v))
    return str(v)


def output(v, esc=True):
    """Convert a value to slot output exactly as jinja2 prints it (escaped when ``esc``)."""
    return to_out(v, esc)


# ---------------------------------------------------------------------------------------------
# Leaves


cdef object read_path(object obj, tuple steps, object env):
    cdef object kind, key, fast
    cdef PyObject* found
    for step in steps:
        kind, key, fast = <tuple>step
        if isinstance(obj, Undefined):
            return _MISSING
        if plain_dict(obj) and (fast or kind == 1):
            found = PyDict_GetItem(obj, key)
            if found is not NULL:
                obj = <object>found
                continue
            if fast:
                return _MISSING
        elif kind == 1 and (type(obj) is list or type(obj) is _TrackedList) and type(key) is int:
            try:
                obj = (<list>obj)[key]
                continue
            except IndexError:
                return _MISSING
        try:
            obj = env.getattr(obj, key) if kind == 0 else env.getitem(obj, key)
        except Exception:
            return _UNSTABLE
    return leaf_value(obj)


cdef object loop_leaf(int code, Py_ssize_t i, Py_ssize_t n):
    if code == 1:
        return i + 1
    if code == 2:
        return i
    if code == 3:
        return n - i
    if code == 4:
        return n - i - 1
    if code == 5:
        return i == 0
    if code == 6:
        return i == n - 1
    if code == 7:
        return n
    if code == 8:
        return 1
    return 0


cdef inline object read_leaf(LeafDesc leaf, object root, object env):
    """The current value of a (non-loop) leaf, given the value of its root register."""
    cdef PyObject* found
    if leaf.nsteps == 0:
        return leaf_value(root)
    if leaf.nsteps == 1 and plain_dict(root) and (leaf.fast0 or leaf.kind0 == 1):
        found = PyDict_GetItemWithError(root, leaf.key0)
        if found is not NULL:
            return leaf_value(<object>found)
        if leaf.fast0:
            return _MISSING
    return read_path(root, leaf.steps, env)


cdef inline bint same_loop_leaf(int code, Py_ssize_t i, Py_ssize_t n, object old):
    """Whether a loop position leaf still has value ``old``, without boxing a new int."""
    if code == 5:
        return old is (i == 0)
    if code == 6:
        return old is (i == n - 1)
    if type(old) is not int:
        return False
    cdef Py_ssize_t want
    if code == 1:
        want = i + 1
    elif code == 2:
        want = i
    elif code == 3:
        want = n - i
    elif code == 4:
        want = n - i - 1
    elif code == 7:
        want = n
    elif code == 8:
        want = 1
    else:
        want = 0
    return old == want


@cython.boundscheck(False)
@cython.wraparound(False)
cdef tuple read_leaves(tuple leaves, object it, Py_ssize_t target_reg, list frame,
                       Py_ssize_t i, Py_ssize_t n, object env):
    """All leaves of a scope instance; roots come from ``it`` (the loop item) or ``frame``."""
    cdef Py_ssize_t k, count = len(leaves)
    cdef LeafDesc leaf
    cdef tuple out = PyTuple_New(count)
    cdef object v
    for k in range(count):
        leaf = <LeafDesc>leaves[k]
        if leaf.loop_attr:
            v = loop_leaf(leaf.loop_attr, i, n)
        elif leaf.root == target_reg:
            v = read_leaf(leaf, it, env)
        else:
            v = read_leaf(leaf, frame[leaf.root], env)
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, k, v)
    return out


# Bit 63 of an item mask stands for "some leaf from the 64th on changed".
cdef unsigned long long HIGH_BIT = (<unsigned long long>1) << 63


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int item_mask_fast(ForDesc d, object it, list frame, Py_ssize_t i, Py_ssize_t n,
                               list old, Py_ssize_t off, object env,
                               unsigned long long* out) except -1:
    """Set ``out`` to the bit mask of the item's leaves that no longer equal ``old[off:]``.

    The per-item scan of every update, over the loop's C leaf table. It allocates nothing
    when nothing changed, and the common case is decided by identity: an old leaf is never a
    mutable object (those are stored as UNSTABLE), so finding the very same object again means
    the leaf is unchanged.
    """
    cdef Py_ssize_t k, count = d.nleaves
    cdef unsigned long long mask = 0
    cdef PyObject* old_k
    cdef PyObject* found
    cdef int code
    cdef int* lcode = d.lcode
    cdef PyObject** lkey = d.lkey
    cdef bint is_dict = plain_dict(it)
    for k in range(count):
        old_k = PyList_GET_ITEM(old, off + k)
        code = lcode[k]
        if code == LEAF_DICT_KEY and is_dict:
            found = dict_lookup(<PyObject*>it, lkey[k])
            if found == old_k:
                continue
            if found == NULL and PyErr_Occurred() != NULL:
                return -1
        elif code == LEAF_ITEM:
            if <PyObject*>it == old_k:
                continue
        elif code == LEAF_LOOP:
            if same_loop_leaf(d.lattr[k], i, n, <object>old_k):
                continue
            mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
            continue
        if not same_leaf(<object>old_k, read_one_leaf(d, k, it, frame, env)):
            mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
    out[0] = mask
    return 0


cdef object read_one_leaf(ForDesc d, Py_ssize_t k, object it, list frame, object env):
    cdef LeafDesc leaf = <LeafDesc>d.leaves[k]
    if leaf.root == d.target_reg:
        return read_leaf(leaf, it, env)
    return read_leaf(leaf, frame[leaf.root], env)


cdef object mask_object(unsigned long long mask):
    """An item mask as the Python int the slot masks are tested against."""
    if mask & HIGH_BIT:
        return <object>(mask & ~HIGH_BIT) | (-1 << 63)
    return mask


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void store_leaves(tuple leaves, object it, Py_ssize_t target_reg, list frame,
                       Py_ssize_t i, Py_ssize_t n, object env, list vals,
                       Py_ssize_t off) except *:
    """Write an item's leaves into ``vals[off:]``."""
    cdef Py_ssize_t k
    cdef LeafDesc leaf
    for k in range(len(leaves)):
        leaf = <LeafDesc>PyTuple_GET_ITEM(leaves, k)
        if leaf.loop_attr:
            vals[off + k] = loop_leaf(leaf.loop_attr, i, n)
        elif leaf.root == target_reg:
            vals[off + k] = read_leaf(leaf, it, env)
        else:
            vals[off + k] = read_leaf(leaf, frame[leaf.root], env)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void append_leaves(ForDesc d, object it, list frame, Py_ssize_t i, Py_ssize_t n,
                        object env, list flat) except *:
    """Append an item's current leaves to a range's flat leaf list."""
    cdef Py_ssize_t k
    cdef LeafDesc leaf
    for k in range(d.nleaves):
        leaf = <LeafDesc>PyTuple_GET_ITEM(d.leaves, k)
        if leaf.loop_attr:
            flat.append(loop_leaf(leaf.loop_attr, i, n))
        elif leaf.root == d.target_reg:
            flat.append(read_leaf(leaf, it, env))
        else:
            flat.append(read_leaf(leaf, frame[leaf.root], env))


cdef inline void copy_leaves(list flat, list old, Py_ssize_t off, Py_ssize_t count) except *:
    cdef Py_ssize_t k
    for k in range(off, off + count):
        flat.append(<object>PyList_GET_ITEM(old, k))


cdef object diff_leaves(tuple old, tuple new):
    """Bit mask of the leaves that changed (as a Python int: templates may read > 64 paths)."""
    cdef Py_ssize_t k, count = len(new)
    cdef unsigned long long small = 0
    cdef object big = 0
    for k in range(count):
        if not same_leaf(old[k], new[k]):
            if k < 63:
                small |= (<unsigned long long>1) << k
            else:
                big |= 1 << k
    if big:
        return big | small
    return small


cdef inline bint affected(tuple masks, list CH):
    cdef Py_ssize_t level
    for pair in masks:
        level = (<tuple>pair)[0]
        if level < len(CH) and (CH[level] & (<tuple>pair)[1]):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Render to HTML (plain rendering, macros and block bodies: no state kept)


cdef Py_ssize_t choose(IfDesc d, list S) except -2:
    cdef Py_ssize_t i
    for i in range(len(d.tests)):
        if d.tests[i](S):
            return i
    if len(d.branches) > len(d.tests):
        return len(d.tests)
    return -1


cdef list collect(ForDesc d, list S):
    """The items a loop iterates, after its ``if`` filter."""
    raw = d.iter_fn(S)
    cdef list items
    if type(raw) is list or type(raw) is _TrackedList:
        items = <list>raw  # a TrackedList is a list: keep it, it can tell what changed
    else:
        items = list(raw)
    if d.filter_fn is None:
        return items
    cdef list kept = []
    cdef list frame
    for it in items:
        frame = new_frame(d, it, None)
        S.append(frame)
        try:
            if d.filter_fn(S):
                kept.append(it)
        finally:
            S.pop()
    return kept


cdef inline list new_frame(ForDesc d, object it, object loop):
    cdef list frame = [None] * d.frame_size
    if d.target_reg >= 0:
        frame[d.target_reg] = it
    else:
        d.target_fn(it, frame)
    if d.loop_reg >= 0 and loop is not None:
        frame[d.loop_reg] = loop
    return frame


cdef object make_loop(ForDesc d, list items):
    if d.loop_reg >= 0:
        return d.loop_factory(items)
    return None


cdef void render_html(NodeDesc d, list S, list parts) except *:
    cdef Py_ssize_t si = 0
    cdef Entry e
    cdef list statics = d.statics_list
    cdef list items
    cdef Py_ssize_t i, n, b
    cdef bint empty = True
    parts.append(statics[0])
    for entry in d.program:
        e = <Entry>entry
        if e.kind == K_BIND:
            S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
            continue
        if e.kind == K_EFFECT:
            (<EffectDesc>e).fn(S)
            continue
        if e.kind == K_EXPR:
            parts.append(to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape))
        elif e.kind == K_IF:
            b = choose(<IfDesc>e, S)
            if b >= 0:
                render_html((<IfDesc>e).branches[b], S, parts)
        elif e.kind == K_FOR:
            items = collect(<ForDesc>e, S)
            n = len(items)
            empty = n == 0
            loop = make_loop(<ForDesc>e, items)
            for i in range(n):
                if loop is not None:
                    loop.index0 = i
                S.append(new_frame(<ForDesc>e, items[i], loop))
                try:
                    render_html((<ForDesc>e).body, S, parts)
                finally:
                    S.pop()
        elif e.kind == K_ELSE:
            if empty:
                render_html((<ElseDesc>e).body, S, parts)
        si += 1
        parts.append(statics[si])


def render_node_html(NodeDesc d, list S):
    cdef list parts = []
    render_html(d, S, parts)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Mount: render keeping state


cdef NodeState render_state(NodeDesc d, list S, NodeState st):
    if st is None:
        st = NodeState()
    st.desc = d
    cdef list vals = [None] * d.nslots
    st.vals = vals
    cdef Entry e
    cdef Py_ssize_t b
    for entry in d.program:
        e = <Entry>entry
        if e.kind == K_BIND:
            S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
        elif e.kind == K_EFFECT:
            (<EffectDesc>e).fn(S)
        elif e.kind == K_EXPR:
            if (<ExprDesc>e).same_as >= 0:
                vals[e.index] = vals[(<ExprDesc>e).same_as]
            else:
                vals[e.index] = to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape)
        elif e.kind == K_IF:
            b = choose(<IfDesc>e, S)
            vals[e.index] = render_state((<IfDesc>e).branches[b], S, None) if b >= 0 else ""
        elif e.kind == K_FOR:
            vals[e.index] = render_range(<ForDesc>e, S)
        else:
            if len((<RangeState>vals[e.index - 1]).items) == 0:
                vals[e.index] = render_state((<ElseDesc>e).body, S, None)
            else:
                vals[e.index] = ""
    return st


@cython.boundscheck(False)
@cython.wraparound(False)
cdef RangeState render_range(ForDesc d, list S):
    cdef list items = collect(d, S)
    cdef Py_ssize_t i, n = len(items)
    cdef RangeState rs = RangeState()
    cdef list states = [None] * n
    cdef ItemState st
    cdef list frame
    cdef list flat = []
    loop = make_loop(d, items)
    env = S[0][0].env
    for i in range(n):
        if loop is not None:
            loop.index0 = i
        frame = new_frame(d, items[i], loop)
        S.append(frame)
        try:
            st = ItemState()
            render_state(d.body, S, st)
            append_leaves(d, items[i], frame, i, n, env, flat)
        finally:
            S.pop()
        st.pos = i
        states[i] = st
    rs.items = states
    rs.leaves = flat
    assign_keys(d, states, None)
    if d.by_identity:
        rs.snap = make_snap(items)
    remember_tracked(rs, items)
    return rs


cdef inline void remember_tracked(RangeState rs, list items):
    if type(items) is _TrackedList:
        rs.tracked = items
        rs.seen = (<object>items).lt_version
        rs.epoch = shared_epoch()
    else:
        rs.tracked = None


cdef list make_snap(list items):
    cdef list snap = list(items)
    cdef Py_ssize_t i
    for i in range(len(snap)):
        if not is_stable_type(snap[i]):
            snap[i] = _UNSTABLE
    return snap


# ---------------------------------------------------------------------------------------------
# Keys


cdef unsigned long long fnv_str(unsigned long long h, str s):
    cdef Py_UCS4 ch
    for ch in s:
        h = (h ^ <unsigned long long>ch) * 1099511628211ULL
    return h


cdef unsigned long long fnv_vals(unsigned long long h, list vals, Py_ssize_t count):
    cdef Py_ssize_t i
    for i in range(count):
        v = vals[i]
        h = (h ^ 31ULL) * 1099511628211ULL
        if type(v) is str:
            h = fnv_str(h, <str>v)
        elif isinstance(v, NodeState):
            h = (h ^ <unsigned long long>hash((<NodeState>v).desc.id)) * 1099511628211ULL
            h = fnv_vals(h, (<NodeState>v).vals, (<NodeState>v).desc.nslots)
        elif isinstance(v, RangeState):
            for it in (<RangeState>v).items:
                h = fnv_str(h, str((<ItemState>it).key))
    return h


cdef str content_key(ItemState st):
    cdef unsigned long long h = fnv_vals(14695981039346656037ULL, st.vals, st.desc.nslots)
    return format(h & 0xFFFFFFFFFF, "x")


cdef inline object natural_key(ForDesc d, ItemState st):
    cdef object k
    if d.key_slot >= 0:
        k = st.vals[d.key_slot]
        if k:
            return k
    return content_key(st)


cdef void assign_keys(ForDesc d, list states, dict taken) except *:
    """Give each item a unique string key; duplicates get a ``#n`` suffix (sent as ``_k``)."""
    cdef dict seen = {} if taken is None else taken
    cdef ItemState st
    cdef object k, base
    cdef Py_ssize_t n
    for obj in states:
        st = <ItemState>obj
        base = natural_key(d, st)
        k = base
        n = 1
        while k in seen:
            n += 1
            k = f"{base}#{n}"
        seen[k] = st
        st.key = k
        st.explicit = d.key_slot < 0 or k != st.vals[d.key_slot]


# ---------------------------------------------------------------------------------------------
# Wire trees


cdef dict node_tree(NodeState st):
    cdef dict out = {STATICS: st.desc.statics_list}
    cdef Py_ssize_t i
    cdef list vals = st.vals
    for i in range(st.desc.nslots):
        out[slot_key(i)] = val_tree(vals[i], st.desc.slots[i])
    return out


cdef object val_tree(object v, Entry e):
    if type(v) is str:
        return v
    if isinstance(v, NodeState):
        return node_tree(<NodeState>v)
    return range_tree(<RangeState>v, <ForDesc>e)


cdef dict item_tree(ItemState st):
    cdef dict out = {}
    cdef Py_ssize_t i
    cdef list vals = st.vals
    for i in range(st.desc.nslots):
        out[slot_key(i)] = val_tree(vals[i], st.desc.slots[i])
    if st.explicit:
        out[KEY] = st.key
    return out


cdef dict range_tree(RangeState rs, ForDesc d):
    cdef dict out = {STATICS: d.body.statics_list, ITEMS: [item_tree(<ItemState>it) for it in rs.items]}
    if d.key_slot >= 0:
        out[META] = {ID_KEY: slot_key(d.key_slot)}
    return out


cdef void state_html(NodeState st, list parts) except *:
    cdef list statics = st.desc.statics_list
    cdef list vals = st.vals
    cdef Py_ssize_t i
    parts.append(statics[0])
    for i in range(st.desc.nslots):
        v = vals[i]
        if type(v) is str:
            parts.append(v)
        elif isinstance(v, NodeState):
            state_html(<NodeState>v, parts)
        else:
            for it in (<RangeState>v).items:
                state_html(<NodeState>it, parts)
        parts.append(statics[i + 1])


# ---------------------------------------------------------------------------------------------
# Update


cdef object update_state(NodeDesc d, NodeState st, list S, list CH):
    """Bring ``st`` up to date; return the wire change (a dict) or None when nothing changed."""
    cdef dict changes = None
    cdef Entry e
    cdef list vals = st.vals
    cdef Py_ssize_t b, i
    cdef object old, new, sub
    cdef NodeDesc old_desc, new_desc
    for entry in d.program:
        e = <Entry>entry
        if e.kind == K_BIND:
            S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
            continue
        if e.kind == K_EFFECT:
            (<EffectDesc>e).fn(S)
            continue
        i = e.index
        old = vals[i]
        if e.kind == K_EXPR:
            if e.volatile or affected(e.masks, CH):
                if (<ExprDesc>e).same_as >= 0:
                    new = vals[(<ExprDesc>e).same_as]
                else:
                    new = to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape)
                if new != old:
                    vals[i] = new
                    if changes is None:
                        changes = {}
                    changes[slot_key(i)] = new
            continue
        if e.kind == K_FOR:
            sub = update_range(<ForDesc>e, <RangeState>old, S, CH)
            if sub is not None:
                if changes is None:
                    changes = {}
                changes[slot_key(i)] = sub
            continue
        old_desc = (<NodeState>old).desc if isinstance(old, NodeState) else None
        if e.kind == K_IF:
            if e.volatile or affected(e.masks, CH):
                b = choose(<IfDesc>e, S)
                new_desc = (<IfDesc>e).branches[b] if b >= 0 else None
            else:
                new_desc = old_desc
        else:  # K_ELSE: shown while the range before it is empty
            if len((<RangeState>vals[i - 1]).items) == 0:
                new_desc = (<ElseDesc>e).body
            else:
                new_desc = None
        if new_desc is old_desc:
            if new_desc is None:
                continue
            if not (new_desc.volatile or affected(new_desc.masks, CH)):
                continue
            sub = update_state(new_desc, <NodeState>old, S, CH)
        elif new_desc is None:
            vals[i] = ""
            sub = ""
        else:
            new = render_state(new_desc, S, None)
            vals[i] = new
            sub = node_tree(<NodeState>new)
        if sub is not None:
            if changes is None:
                changes = {}
            changes[slot_key(i)] = sub
    return changes


cdef object update_item(ForDesc d, ItemState st, list S, list CH, object mask):
    CH.append(mask)
    try:
        return update_state(d.body, st, S, CH)
    finally:
        CH.pop()


cdef object eval_key(ForDesc d, list S):
    """The natural key of the item on top of ``S``, evaluating only what the key slot needs."""
    cdef Entry e
    for entry in d.key_prefix:
        e = <Entry>entry
        S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
    cdef ExprDesc kd = <ExprDesc>d.body.slots[d.key_slot]
    return to_out(kd.fn(S), kd.escape)


cdef object update_range(ForDesc d, RangeState rs, list S, list CH):
    if not (d.volatile or d.sequential or affected(d.masks, CH) or affected(d.body_outer, CH)):
        return None
    cdef list items = collect(d, S)
    cdef object result, changes
    if (rs.tracked is items and type(items) is _TrackedList and d.target_reg >= 0
            and not d.sequential and not d.body.volatile and rs.epoch == shared_epoch()
            and not affected(d.body_outer, CH)):
        # The list reports its own changes: check only the items it names.
        changes = (<object>items).lt_changes_since(rs.seen)
        if changes is not None and changes[1] == len(rs.items):
            result = update_tracked(d, rs, items, sorted(changes[0]), S, CH)
            if result is not _UNSTABLE:
                rs.seen = (<object>items).lt_version
                return result
    if d.by_identity and rs.snap is not None and not d.body.volatile:
        result = update_by_identity(d, rs, items, S, CH)
        if result is not _UNSTABLE:
            return result
    result = update_items(d, rs, items, S, CH)
    if d.by_identity:
        rs.snap = make_snap(items)
    remember_tracked(rs, items)
    return result


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_by_identity(ForDesc d, RangeState rs, list items, list S, list CH):
    """Fast path for ranges whose body reads only the item (a grid of numbers): compare the
    items with the last ones by identity, and update just the positions that differ.  Returns
    UNSTABLE when the general path is needed (length or keys changed, outer values changed)."""
    cdef list snap = rs.snap
    cdef list old = rs.items
    cdef Py_ssize_t i, n = len(items)
    if n != len(snap) or affected(d.body_outer, CH):
        return _UNSTABLE
    cdef list dirty = []
    for i in range(n):
        if PyList_GET_ITEM(items, i) != PyList_GET_ITEM(snap, i):
            dirty.append(i)
            it = items[i]
            snap[i] = it if is_stable_type(it) else _UNSTABLE
    if not dirty:
        return None
    return update_positions(d, rs, items, dirty, S, CH)


cdef object update_tracked(ForDesc d, RangeState rs, list items, list dirty, list S, list CH):
    """A TrackedList named the items changed in place; any beyond the old length are new."""
    cdef Py_ssize_t i, m = len(rs.items), n = len(items)
    if n != m and d.uses_length:
        return _UNSTABLE  # loop.last, loop.length … of every item may have changed
    cdef object ops = update_positions(d, rs, items, dirty, S, CH, n) if dirty else None
    if ops is _UNSTABLE or n == m:
        return ops
    # appended items: rendered and sent as one append op
    cdef list fresh = []
    cdef ItemState st
    cdef list frame
    env = S[0][0].env
    loop = make_loop(d, items)
    for i in range(m, n):
        it = items[i]
        if loop is not None:
            loop.index0 = i
        frame = new_frame(d, it, loop)
        st = ItemState()
        S.append(frame)
        try:
            render_state(d.body, S, st)
        finally:
            S.pop()
        append_leaves(d, it, frame, i, n, env, rs.leaves)
        st.pos = i
        fresh.append(st)
    if rs.by_key is None:
        rs.by_key = {(<ItemState>x).key: x for x in rs.items}
    assign_keys(d, fresh, rs.by_key)
    rs.items.extend(fresh)
    if d.by_identity and rs.snap is not None:
        rs.snap.extend(make_snap(items[m:]))
    ops = ops or []
    ops.append([OP_APPEND, [item_tree(<ItemState>x) for x in fresh]])
    return ops


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_positions(ForDesc d, RangeState rs, list items, list dirty, list S,
                             list CH, Py_ssize_t n=-1):
    """Update the items at the ``dirty`` positions of a range whose order did not change
    (``n``: the length loop positions count with, by default ``len(items)``).  Returns
    UNSTABLE, having changed nothing, when a key changed (general path)."""
    cdef list old = rs.items
    cdef Py_ssize_t i
    if n < 0:
        n = len(items)
    env = S[0][0].env
    cdef list masks = []
    cdef unsigned long long ch
    cdef ItemState o
    for i in dirty:
        o = <ItemState>old[i]
        item_mask_fast(d, items[i], None, i, n, rs.leaves, i * d.nleaves, env, &ch)
        if ch and (d.key_slot < 0 or (ch & d.key_mask_c)):
            return _UNSTABLE  # the key changes: match by key in the general path
        masks.append(ch)
    cdef list ops = []
    loop = make_loop(d, items)
    cdef Py_ssize_t j
    for j in range(len(dirty)):
        i = dirty[j]
        it = items[i]
        ch = masks[j]
        if not ch:
            continue
        o = <ItemState>old[i]
        store_leaves(d.leaves, it, d.target_reg, None, i, n, env, rs.leaves, i * d.nleaves)
        if loop is not None:
            loop.index0 = i
        S.append(new_frame(d, it, loop))
        try:
            sub = update_item(d, o, S, CH, mask_object(ch))
        finally:
            S.pop()
        if sub is not None:
            ops.append([OP_UPDATE, o.key, sub])
    return ops or None


# Each general range update takes a new number; an old item state stamped with it (``claim``)
# already has its place in the new order.
cdef unsigned long long _generation = 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_items(ForDesc d, RangeState rs, list items, list S, list CH):
    """The general update of a range: match each item to an old one (same position, then
    the old position plus the current shift, then by key), update or render it, then diff
    the key order."""
    cdef list old = rs.items
    cdef list old_flat = rs.leaves
    cdef list flat = None  # the new leaves, made with ``states``
    cdef Py_ssize_t i, n = len(items), m = len(old), L = d.nleaves
    cdef bint outer_dirty = d.sequential or d.body.volatile or affected(d.body_outer, CH)
    cdef bint key_outer_dirty = affected(d.key_outer, CH)
    cdef bint shifted = False  # some kept item is no longer at its old position
    cdef list states = None  # made at the first item that is not the same as before
    cdef list updated = []  # (state, change) of kept items updated in place, in new order
    cdef list fresh = []  # indices of items rendered anew
    global _generation
    _generation += 1
    cdef unsigned long long gen = _generation
    cdef list frame
    cdef ItemState o, st
    cdef unsigned long long ch = 0
    cdef object sub, k
    cdef dict by_key
    cdef Py_ssize_t delta = 0  # old position - new position of the last item found by key
    loop = make_loop(d, items)
    env = S[0][0].env
    cdef bint need_frame = d.target_reg < 0
    frame = None
    for i in range(n):
        it = items[i]
        if need_frame:
            frame = new_frame(d, it, None)
        o = None
        if i < m:
            o = <ItemState>old[i]
            if o.claim == gen:
                o = None
            else:
                item_mask_fast(d, it, frame, i, n, old_flat, i * L, env, &ch)
                if not ch and not outer_dirty:
                    o.claim = gen
                    if states is not None:
                        states[i] = o
                        copy_leaves(flat, old_flat, i * L, L)
                    continue
                if d.key_slot < 0 or (ch & d.key_mask_c) or key_outer_dirty:
                    o = None  # its key may have changed: find the item by key below
        if states is None:
            if i == m:
                # Only new items at the end so far (the usual append): extend in place.
                states = old
                flat = old_flat
            else:
                states = old[:i]  # one copy of the unchanged prefix
                flat = old_flat[:i * L]
            states.extend([None] * (n - i))
        if loop is not None:
            loop.index0 = i
        frame = new_frame(d, it, loop)
        if o is None and delta and 0 <= i + delta < m:
            # Items shifted (inserted or removed before): try the old item as far along.
            o = <ItemState>old[i + delta]
            item_mask_fast(d, it, frame, i, n, old_flat, o.pos * L, env, &ch)
            if o.claim == gen or (
                (ch & d.key_mask_c) or key_outer_dirty if d.key_slot >= 0
                else (ch or outer_dirty)
            ):
                o = None
            else:
                shifted = True
        if o is None and d.key_slot >= 0:
            S.append(frame)
            try:
                k = eval_key(d, S)
            finally:
                S.pop()
            by_key = rs.by_key
            if by_key is None:
                by_key = {(<ItemState>x).key: x for x in old[:m]}
                rs.by_key = by_key
            o = by_key.get(k)
            if o is not None and (o.claim == gen or (o.explicit and o.key != k)):
                o = None
            if o is not None:
                item_mask_fast(d, it, frame, i, n, old_flat, o.pos * L, env, &ch)
                delta = o.pos - i
                if delta:
                    shifted = True
        if o is not None:
            o.claim = gen
            if ch:
                append_leaves(d, it, frame, i, n, env, flat)
            else:
                copy_leaves(flat, old_flat, o.pos * L, L)
            if ch or outer_dirty:
                S.append(frame)
                try:
                    sub = update_item(d, o, S, CH, -1 if d.sequential else mask_object(ch))
                finally:
                    S.pop()
                if sub is not None:
                    updated.append((o, sub))
            states[i] = o
            continue
        st = ItemState()
        S.append(frame)
        try:
            render_state(d.body, S, st)
        finally:
            S.pop()
        append_leaves(d, it, frame, i, n, env, flat)
        states[i] = st
        fresh.append(i)
    if states is None:
        states = old if n == m else old[:n]
        flat = old_flat if n == m else old_flat[:n * L]
    rs.items = states
    rs.leaves = flat
    if not fresh and not shifted and n == m:
        if not updated:
            return None
        return [[OP_UPDATE, (<ItemState>x).key, sub] for x, sub in updated]
    return diff_order(d, rs, old, m, states, updated, fresh, shifted, gen)


cdef object diff_order(ForDesc d, RangeState rs, list old, Py_ssize_t m, list states,
                       list updated, list fresh, bint shifted, unsigned long long gen):
    """Ops for a range whose items are matched (kept, updated or fresh): the cheap cases
    directly, the rest through the general keyed diff.  ``old[:m]`` is what the client has
    (``old`` may be ``states`` itself, extended in place by an append)."""
    cdef Py_ssize_t i, n = len(states)
    cdef ItemState o
    cdef list ops
    cdef dict by_key
    # Kept items still in their old order, new ones only at one end (appends, removals, a
    # capped log that drops its oldest line): removes, updates and one append or prepend.
    cdef Py_ssize_t last = -1, last_kept = -1, kept = 0
    cdef bint in_order = True
    cdef bint tail_only = not shifted and (not fresh or fresh[0] >= m)
    if tail_only:  # every old item kept its position: no need to look at them again
        last_kept = min(n, m) - 1
        kept = min(n, m)
    else:
        for i in range(n):
            o = <ItemState>states[i]
            if o.claim != gen:
                continue  # a new item
            if o.pos <= last:
                in_order = False
            last = o.pos
            last_kept = i
            kept += 1
    cdef bint suffix = not fresh or fresh[0] > last_kept
    cdef bint prefix = bool(fresh) and fresh[len(fresh) - 1] == len(fresh) - 1 and (
        last_kept >= len(fresh) or last_kept == -1)
    # (content-keyed new items might be old ones moved: only when nothing was removed)
    if in_order and (suffix or prefix) and (d.key_slot >= 0 or kept == m):
        by_key = rs.by_key
        if by_key is None:
            by_key = {(<ItemState>x).key: x for x in old[:m]}
        ops = []
        for x in (old[n:m] if tail_only else old[:m]):
            if (<ItemState>x).claim == gen:
                continue
            ops.append([OP_REMOVE, (<ItemState>x).key])
            by_key.pop((<ItemState>x).key, None)
        for x, sub in updated:
            ops.append([OP_UPDATE, (<ItemState>x).key, sub])
        if fresh:
            assign_keys(d, [states[i] for i in fresh], by_key)
            ops.append([OP_APPEND if suffix else OP_PREPEND,
                        [item_tree(<ItemState>states[i]) for i in fresh]])
        rs.by_key = by_key
        if tail_only:
            for i in fresh:
                (<ItemState>states[i]).pos = i
        else:
            set_positions(states)
        return smallest(d, ops, states, len(fresh), m - kept, len(updated))
    set_positions(states)
    cdef dict pending = {id(x): sub for x, sub in updated}
    return rekey_and_diff(d, rs, old[:m], states, pending, fresh, gen)


cdef void set_positions(list states) except *:
    cdef Py_ssize_t i
    for i in range(len(states)):
        (<ItemState>states[i]).pos = i


cdef object rekey_and_diff(ForDesc d, RangeState rs, list old, list states, dict pending,
                           list fresh, unsigned long long gen):
    """General path: give new items unique keys, then emit the ops for the new key order."""
    cdef list old_keys = [(<ItemState>x).key for x in old]
    cdef dict old_by_key = {}
    cdef ItemState st, prev
    cdef Py_ssize_t i
    cdef dict taken = {}
    cdef set fresh_set = set(fresh)
    for i in range(len(states)):
        if i not in fresh_set:
            st = <ItemState>states[i]
            taken[st.key] = st
    for x in old:
        old_by_key[(<ItemState>x).key] = x
    assign_keys(d, [states[i] for i in fresh], taken)
    for i in fresh:
        st = <ItemState>states[i]
        prev = old_by_key.get(st.key)
        if prev is not None and prev.claim != gen and prev.desc is st.desc:
            # An old item with the same content key that no position claimed: diff it.
            sub = diff_items(prev, st)
            if sub is not None:
                pending[id(st)] = sub
    rs.by_key = taken
    return range_ops(d, old_keys, states, pending)


cdef object diff_items(ItemState old, ItemState new):
    """Change turning ``old``'s values into ``new``'s (both fully rendered)."""
    return diff_vals(old.desc, old.vals, new.vals)


cdef object diff_vals(NodeDesc d, list old, list new):
    cdef dict changes = None
    cdef Py_ssize_t i
    cdef object a, b, sub
    for i in range(d.nslots):
        a = old[i]
        b = new[i]
        if a is b:
            continue
        sub = None
        if type(b) is str:
            if type(a) is not str or a != b:
                sub = b
        elif isinstance(b, NodeState):
            if isinstance(a, NodeState) and (<NodeState>a).desc is (<NodeState>b).desc:
                sub = diff_vals((<NodeState>b).desc, (<NodeState>a).vals, (<NodeState>b).vals)
            else:
                sub = node_tree(<NodeState>b)
        else:
            sub = range_full_diff(<ForDesc>d.slots[i], <RangeState>a, <RangeState>b)
        if sub is not None:
            if changes is None:
                changes = {}
            changes[slot_key(i)] = sub
    return changes


cdef object range_full_diff(ForDesc d, RangeState a, RangeState b):
    cdef dict pending = {}
    cdef dict old_by_key = {(<ItemState>x).key: x for x in a.items}
    for x in b.items:
        prev = old_by_key.get((<ItemState>x).key)
        if prev is not None and prev is not x:
            sub = diff_items(<ItemState>prev, <ItemState>x)
            if sub is not None:
                pending[id(x)] = sub
    return range_ops(d, [(<ItemState>x).key for x in a.items], b.items, pending)


cdef list lis_keep(list seq):
    """Indices (into ``seq``) of a longest increasing subsequence."""
    cdef Py_ssize_t n = len(seq), i, lo, hi, mid
    cdef list tails = []
    cdef list tails_idx = []
    cdef list prev = [-1] * n
    for i in range(n):
        v = seq[i]
        lo = 0
        hi = len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if tails[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo > 0:
            prev[i] = tails_idx[lo - 1]
        if lo == len(tails):
            tails.append(v)
            tails_idx.append(i)
        else:
            tails[lo] = v
            tails_idx[lo] = i
    cdef list out = []
    i = tails_idx[-1] if tails_idx else -1
    while i >= 0:
        out.append(i)
        i = prev[i]
    out.reverse()
    return out


cdef str compact(object value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


cdef object range_ops(ForDesc d, list old_keys, list states, dict pending):
    """Ops turning the client's range (``old_keys``) into ``states``; None when equal."""
    cdef list new_keys = [(<ItemState>x).key for x in states]
    cdef set new_set = set(new_keys)
    cdef dict old_pos = {}
    cdef Py_ssize_t i
    for i in range(len(old_keys)):
        old_pos[old_keys[i]] = i
    cdef list ops = []
    cdef list removed = [k for k in old_keys if k not in new_set]
    # Kept items in their new order, as old positions; those off a longest increasing
    # subsequence must move: either one reorder op, or remove + insert each (smaller of the two).
    cdef list kept_idx = [i for i in range(len(states)) if new_keys[i] in old_pos]
    cdef list seq = [old_pos[new_keys[i]] for i in kept_idx]
    cdef set movers = set()
    cdef list keep
    cdef bint reorder = False
    if seq and any(seq[j] > seq[j + 1] for j in range(len(seq) - 1)):
        keep = lis_keep(seq)
        keep_set = set(keep)
        mover_idx = [kept_idx[j] for j in range(len(seq)) if j not in keep_set]
        move_cost = sum(len(compact(item_tree(<ItemState>states[i]))) + 2 * len(new_keys[i]) + 16
                        for i in mover_idx)
        order_cost = sum(len(new_keys[i]) + 3 for i in kept_idx) + 8
        if move_cost < order_cost:
            movers = set(mover_idx)
        else:
            reorder = True
    for k in removed:
        ops.append([OP_REMOVE, k])
    for i in sorted(movers):
        ops.append([OP_REMOVE, new_keys[i]])
    if reorder:
        ops.append([OP_REORDER, [new_keys[i] for i in kept_idx]])
    for i in kept_idx:
        if i in movers:
            continue
        st = states[i]
        sub = pending.get(id(st))
        if sub is not None:
            ops.append([OP_UPDATE, new_keys[i], sub])
    # Insertions, left to right, so every anchor exists when its op is applied.
    cdef Py_ssize_t n = len(states)
    cdef list added = [i for i in range(n) if new_keys[i] not in old_pos or i in movers]
    if added:
        last_kept = max([i for i in kept_idx if i not in movers], default=-1)
        front = []
        j = 0
        while j < n and (new_keys[j] not in old_pos or j in movers):
            front.append(item_tree(<ItemState>states[j]))
            j += 1
        if last_kept < 0:
            ops.append([OP_APPEND, front])
        else:
            if front:
                ops.append([OP_PREPEND, front])
            tail = []
            for i in added:
                if i < j:
                    continue
                if i > last_kept:
                    tail.append(item_tree(<ItemState>states[i]))
                else:
                    ops.append([OP_INSERT, new_keys[i - 1], item_tree(<ItemState>states[i])])
            if tail:
                ops.append([OP_APPEND, tail])
    return smallest(d, ops, states, len(added), len(removed), len(pending))


cdef object smallest(ForDesc d, list ops, list states, Py_ssize_t added, Py_ssize_t removed,
                     Py_ssize_t updated):
    """``ops``, or the whole new range when that is smaller (most items changed); None if no op."""
    if not ops:
        return None
    if added + removed > 8 and 2 * (added + updated) >= len(states):
        full = {STATICS: d.body.statics_list, ITEMS: [item_tree(<ItemState>x) for x in states]}
        if d.key_slot >= 0:
            full[META] = {ID_KEY: slot_key(d.key_slot)}
        if len(compact(full)) < len(compact(ops)):
            return full
    return ops


# ---------------------------------------------------------------------------------------------
# The live page


cdef class Mount:
    """One live render of a template: the tree the client holds, and how to update it."""

    cdef public TemplateDesc template
    cdef public NodeState state
    cdef public tuple leaves

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
        cdef Py_ssize_t k
        if changed is None:
            new_leaves = read_leaves(t.leaves, None, -1, frame, 0, 1, frame[0].env)
        else:
            changed = changed if isinstance(changed, (set, frozenset, dict)) else set(changed)
            fresh = read_leaves(t.leaves, None, -1, frame, 0, 1, frame[0].env)
            new_leaves = tuple(
                fresh[k] if t.leaf_names[k] in changed else self.leaves[k]
                for k in range(len(fresh))
            )
        cdef object mask = diff_leaves(self.leaves, new_leaves)
        if changed is not None:
            # untouched names: unstable leaves (lists, dicts) are trusted as unchanged too
            for k in range(len(new_leaves)):
                if t.leaf_names[k] not in changed and (mask >> k) & 1:
                    mask &= ~(1 << k)
        self.leaves = new_leaves
        cdef list CH = [mask]
        if not (t.root.volatile or affected(t.root.masks, CH)):
            return {}
        result = update_state(t.root, self.state, S, CH)
        return result if result is not None else {}


# ---------------------------------------------------------------------------------------------
# Attribute and item access for generated code: jinja2's semantics, with a fast path for the
# plain dicts and lists that page data is usually made of.


def make_accessors(env):
    """(ga, gad, gi) for ``env``: ``x.name``, ``x.name`` where name is no dict attribute, ``x[k]``."""
    slow_getattr = env.getattr
    slow_getitem = env.getitem
    undefined = env.undefined
    if getattr(env, "sandboxed", False):
        return slow_getattr, slow_getattr, slow_getitem

    def gad(obj, name):
        cdef PyObject* found
        if plain_dict(obj):
            found = PyDict_GetItem(obj, name)
            if found is not NULL:
                return <object>found
            return undefined(obj=obj, name=name)
        return slow_getattr(obj, name)

    def gi(obj, key):
        cdef PyObject* found
        if plain_dict(obj):
            found = PyDict_GetItem(obj, key)
            if found is not NULL:
                return <object>found
        elif (type(obj) is list or type(obj) is _TrackedList) and type(key) is int:
            try:
                return (<list>obj)[key]
            except IndexError:
                pass
        return slow_getitem(obj, key)

    return slow_getattr, gad, gi
