# Updates: which slots and ranges to revisit, and the fast range paths (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Update


cdef object update_state(NodeDesc d, NodeState st, list S, list CH):
    """Bring ``st`` up to date; return the wire change (a dict) or None when nothing changed."""
    cdef dict changes = None
    cdef Entry e
    cdef tuple vals = st.vals
    cdef list w = None  # the new values, copied from ``vals`` at the first change
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
                if type(e) is ComponentDesc:  # a node of its own (_components.pxi)
                    new, sub = update_component(<ExprDesc>e, old, S)
                    if new is not old:
                        if w is None:
                            w = list(vals)
                        w[i] = new
                    if sub is not None:
                        if changes is None:
                            changes = {}
                        changes[slot_key(i)] = sub
                    continue
                if (<ExprDesc>e).same_as >= 0:
                    new = (w if w is not None else vals)[(<ExprDesc>e).same_as]
                else:
                    new = to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape)
                if new != old:
                    if w is None:
                        w = list(vals)
                    w[i] = new
                    if changes is None:
                        changes = {}
                    changes[slot_key(i)] = wire_str(<str>new)
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
        else:
            if w is None:
                w = list(vals)
            if new_desc is None:
                w[i] = ""
                sub = ""
            else:
                new = render_state(new_desc, S, None)
                w[i] = new
                sub = node_tree(<NodeState>new)
        if sub is not None:
            if changes is None:
                changes = {}
            changes[slot_key(i)] = sub
    if w is not None:
        st.vals = tuple(w)
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
    if type(d) is StreamDesc:
        return update_stream(d, <StreamState>rs, S)
    if not (d.volatile or d.sequential or affected(d.masks, CH) or affected(d.body_outer, CH)):
        return None
    cdef list items = collect(d, S)
    cdef object result, changes
    cdef Py_ssize_t stamped = rs.nstamps
    rs.nstamps = 0  # kept only by the in-place paths below (update_in_place, update_items)
    if (rs.tracked is items and type(items) is _TrackedList and d.target_reg >= 0
            and not d.sequential and not d.body.volatile
            and not affected(d.body_outer, CH)):
        # The list reports its own changes: check only the items it names.
        changes = (<object>items).lt_changes_since(rs.seen)
        if changes is not None and changes[1] == len(rs.items):
            result = update_tracked(d, rs, items, sorted(changes[0]), S, CH)
            if result is not _UNSTABLE:
                rs.seen = (<object>items)._lt_version
                return result
    if d.by_identity and rs.objs is not None and not d.body.volatile:
        result = update_by_identity(d, rs, items, S, CH)
        if result is not _UNSTABLE:
            return result
    if d.key_slot < 0:
        rs.nstamps = stamped
        result = update_unkeyed(d, rs, items, S, CH)
    else:
        rs.nstamps = stamped
        result = update_items(d, rs, items, S, CH)
        if d.keeps_objs:
            rs.objs = list(items)
    remember_tracked(rs, items)
    return result


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_by_identity(ForDesc d, RangeState rs, list items, list S, list CH):
    """Fast path for ranges whose body reads only the item (a grid of numbers): compare the
    items with the last ones by identity, and update just the positions that differ.  Returns
    UNSTABLE when the general path is needed (length or keys changed, outer values changed).
    A mutable item (a row of a grid) may have changed in place, so it is always looked at."""
    cdef list objs = rs.objs
    cdef Py_ssize_t i, n = len(items)
    if n != len(objs) or affected(d.body_outer, CH):
        return _UNSTABLE
    cdef list dirty = []
    cdef PyObject* it
    for i in range(n):
        it = PyList_GET_ITEM(items, i)
        if it != PyList_GET_ITEM(objs, i) or not is_stable_type(<object>it):
            dirty.append(i)
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
    key_new_items(d, rs, fresh)
    rs.items.extend(fresh)
    if rs.objs is not None:
        rs.objs.extend(items[m:])
    ops = ops or []
    ops.append([OP_APPEND, [item_tree(<ItemState>x) for x in fresh]])
    return ops


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_positions(ForDesc d, RangeState rs, list items, list dirty, list S,
                             list CH, Py_ssize_t n=-1):
    """Update the items at the ``dirty`` positions of a range whose order did not change
    (``n``: the length loop positions count with, by default ``len(items)``).  Returns
    UNSTABLE, having changed nothing, when a key changed (general path).  An item of a range
    with no key attribute keeps its key whatever changes in it."""
    cdef list old = rs.items
    cdef list objs = rs.objs
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
        if ch and d.key_slot >= 0 and (ch & d.key_mask_c):
            return _UNSTABLE  # the key changes: match by key in the general path
        masks.append(ch)
    cdef list ops = []
    loop = make_loop(d, items)
    cdef Py_ssize_t j
    for j in range(len(dirty)):
        i = dirty[j]
        it = items[i]
        if objs is not None:
            objs[i] = it
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
