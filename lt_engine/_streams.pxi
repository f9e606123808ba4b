# Streams: ranges whose items the server renders once, sends and forgets (included by _core.pyx).
#
# A ``{% for m in stream("messages") %}`` loop is a StreamDesc: a ForDesc whose iterable is a
# ``lt_engine.streams.Stream``.  Mounting renders the stream's items like any range (jinja2's
# first render is the same) and takes them out of the stream; the range state keeps those item
# states only until the stream next changes, for the page's HTML and full tree.  An update takes
# the stream's pending changes and renders each into range ops — appends, prepends, updates,
# removes, or a whole new range for a reset — keeping nothing: a page's memory does not grow with
# what it streamed.  The client keeps the items (wire.STREAM in the range's "m", with the limit).


cdef class StreamDesc(ForDesc):
    """A loop over ``stream("name")``: built as a ForDesc (codegen), updated by update_stream."""
    pass


@cython.no_gc
cdef class StreamState(RangeState):
    """A stream's range state: no items once sent, and the limit its range's "m" carries."""
    cdef public Py_ssize_t limit  # 0: none


cdef object stream_of(ForDesc d, list S):
    """The Stream the loop reads (a clear error for anything else)."""
    s = d.iter_fn(S)
    if not isinstance(s, _Stream):
        raise TypeError(f"a stream(…) loop needs a livetemplate Stream in the data, not"
                        f" {type(s).__name__}")
    return s


cdef void mounted_stream(ForDesc d, StreamState rs, list S) except *:
    """After render_range rendered a stream's items: the stream forgets them, and the range
    keeps no leaves (streams are never diffed item by item)."""
    s = stream_of(d, S)
    s.take()
    rs.limit = s.limit or 0
    rs.leaves = []
    rs.objs = None
    rs.tracked = None


cdef ItemState stream_item(ForDesc d, object it, list S):
    """One item rendered and keyed, or None when the loop's ``if`` filter drops it."""
    cdef list frame = new_frame(d, it, None)
    cdef ItemState st
    S.append(frame)
    try:
        if d.filter_fn is not None and not d.filter_fn(S):
            return None
        st = ItemState()
        render_state(d.body, S, st)
    finally:
        S.pop()
    st.key = natural_key(d, st)
    st.explicit = st.key != st.vals[d.key_slot]
    return st


cdef list stream_trees(ForDesc d, list items, list S):
    cdef list out = []
    cdef ItemState st
    for it in items:
        st = stream_item(d, it, S)
        if st is not None:
            out.append(item_tree(st))
    return out


cdef object stream_key(ForDesc d, object it, list S):
    """The key of ``it``, evaluating only what the key slot needs."""
    S.append(new_frame(d, it, None))
    try:
        return eval_key(d, S)
    finally:
        S.pop()


cdef object update_stream(ForDesc d, StreamState rs, list S):
    """The stream's pending changes as range ops (or a whole range after a reset); None when
    nothing is pending."""
    s = stream_of(d, S)
    cdef list pending = s.take()
    if not pending:
        return None
    rs.items = []  # what the mount rendered is the client's now
    rs.by_key = None
    cdef list ops = []
    cdef object full = None
    cdef list trees
    cdef set keys = None  # the keys of the last append op
    cdef ItemState st
    for kind, payload in pending:
        if kind == _S_RESET:
            ops = []
            full = {STATICS: d.body.statics_list, ITEMS: stream_trees(d, payload, S),
                    META: {ID_KEY: slot_key(d.key_slot), STREAM: rs.limit}}
            continue
        if kind == _S_APPEND:
            # A run of appends is one op, until a key comes again: appended one by one, the
            # browser may have trimmed the first to the limit before the second came. With a
            # limit, one op per item: an item may bring back a key the browser held and
            # trimmed when an earlier one came (the server does not know the browser's keys).
            for it in payload:
                st = stream_item(d, it, S)
                if st is None:
                    continue
                if rs.limit or not (ops and ops[len(ops) - 1][0] == OP_APPEND
                                    and st.key not in keys):
                    ops.append([OP_APPEND, []])
                    keys = set()
                ops[len(ops) - 1][1].append(item_tree(st))
                keys.add(st.key)
        elif kind == _S_PREPEND:
            trees = stream_trees(d, payload, S)
            if trees:
                ops.append([OP_PREPEND, trees])
        elif kind == _S_UPDATE:
            st = stream_item(d, payload, S)
            if st is not None:
                ops.append([OP_UPDATE, st.key, item_tree(st)])
        elif kind == _S_DELETE:
            ops.append([OP_REMOVE, stream_key(d, payload, S)])
        else:  # DELETE_KEY
            ops.append([OP_REMOVE, payload])
    if full is None:
        return ops or None
    if rs.limit and len(full[ITEMS]) > rs.limit:  # as the client trims an append
        del full[ITEMS][:len(full[ITEMS]) - rs.limit]
    if ops:
        _apply_wire_ops(full, ops)  # a reset then more changes: one whole range
    return full
