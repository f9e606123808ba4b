# What a mounted page keeps per node, range and item, and how values are compared (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# State


# State objects hold no references back up the tree, so they can never be part of a cycle:
# keeping them out of the cyclic GC saves memory and collection time on big pages.
@cython.no_gc
cdef class NodeState:
    cdef public NodeDesc desc
    # slot values: a tuple (smaller than a list, and the GC stops tracking a tuple of strings),
    # replaced as a whole when a slot changes
    cdef public tuple vals


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
    # The item objects of the last update, for by-identity ranges (a grid of numbers: compared
    # by identity) and ranges with no key attribute (items are recognised by identity when they
    # move); None for other ranges.
    cdef public list objs
    cdef public Py_ssize_t next_key  # ranges with no key attribute: the next item key to give
    # for ranges over a TrackedList: the list and its version last seen
    cdef public object tracked
    cdef public Py_ssize_t seen
    # Per position, the version of the dict the item's leaves were read from when they were
    # last found unchanged (0: none; see unchanged_since).  Meaningful for the first
    # ``nstamps`` positions only; paths other than update_in_place (no key attribute) and
    # update_items (keyed) forget them all.
    cdef unsigned long long* stamps
    cdef Py_ssize_t nstamps
    cdef Py_ssize_t stamps_cap

    def __dealloc__(self):
        PyMem_Free(self.stamps)


cdef int stamps_for(RangeState rs, Py_ssize_t n) except -1:
    """Make ``rs.stamps`` hold ``n`` positions; those past the valid ones start at 0."""
    cdef unsigned long long* grown
    cdef Py_ssize_t j
    if n > rs.stamps_cap:
        grown = <unsigned long long*>PyMem_Realloc(rs.stamps, n * sizeof(unsigned long long))
        if grown == NULL:
            raise MemoryError()
        rs.stamps = grown
        rs.stamps_cap = n
    for j in range(rs.nstamps, n):
        rs.stamps[j] = 0
    rs.nstamps = n
    return 0


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
    """markupsafe.escape for an exact str (the same five replacements), returning ``s`` itself
    when nothing needs escaping.  markupsafe's own costs a Python call and a Markup per value."""
    cdef Py_UCS4 ch
    cdef bint amp = False, lt = False, gt = False, dq = False, sq = False
    for ch in s:
        if ch == u'&':
            amp = True
        elif ch == u'<':
            lt = True
        elif ch == u'>':
            gt = True
        elif ch == u'"':
            dq = True
        elif ch == u"'":
            sq = True
    if amp:
        s = s.replace(u"&", u"&amp;")
    if gt:
        s = s.replace(u">", u"&gt;")
    if lt:
        s = s.replace(u"<", u"&lt;")
    if sq:
        s = s.replace(u"'", u"&#39;")
    if dq:
        s = s.replace(u'"', u"&#34;")
    return s


cdef inline object to_out(object v, bint esc):
    cdef type t = type(v)
    if t is str:
        return escape_str(<str>v) if esc else v
    if t is int:
        return str(v)
    if t is _Undefined:  # `x if c` with c false: markupsafe would probe it for __html__ first
        return ""
    if t is _Markup:
        return str(v)
    if esc:
        return str(_mk_escape(v))
    return str(v)
