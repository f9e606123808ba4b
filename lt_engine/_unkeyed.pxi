# Ranges with no key attribute: identity by position (included by _core.pyx).
#
# An item of such a range keeps the key it was given when it was first rendered (the range's next
# number, sent as "_k") for as long as it lives, whatever changes in it: a changed item goes out
# as ["u", key, {changed slots}], never as remove + insert.  Most updates keep every position
# (rows edited in place, cells of a grid, a list that grew or shrank at its end) and cost one
# scan.  Only when the same objects are no longer at the same positions does the order tell what
# happened: items are recognised by identity (the same object, moved), or when nothing is, by
# the values they render; whatever lies between two recognised items is paired by position
# (updated in place) and the rest is inserted or removed.


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_unkeyed(ForDesc d, RangeState rs, list items, list S, list CH):
    cdef list src = align_unkeyed(d, rs, items, S)
    if src is None:
        return update_in_place(d, rs, items, S, CH)
    rs.nstamps = 0  # the leaves move to other positions
    return update_aligned(d, rs, items, src, S, CH)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_in_place(ForDesc d, RangeState rs, list items, list S, list CH):
    """Every position keeps its item; the range grew or shrank at its end."""
    cdef list old = rs.items
    cdef list flat = rs.leaves
    cdef list objs = rs.objs
    cdef Py_ssize_t j, n = len(items), m = len(old), L = d.nleaves
    cdef Py_ssize_t lim = n if n < m else m
    cdef bint outer_dirty = d.sequential or d.body.volatile or affected(d.body_outer, CH)
    cdef bint need_frame = d.target_reg < 0
    cdef unsigned long long ch
    cdef ItemState st
    cdef list frame = None
    cdef list updates = None
    cdef list ops = []
    env = S[0][0].env
    loop = make_loop(d, items)
    cdef unsigned long long* stamps = NULL
    cdef bint attrs = fast_attrs(env)
    if d.stampable:
        stamps_for(rs, n)
        stamps = rs.stamps
    for j in range(lim):
        it = items[j]
        if PyList_GET_ITEM(objs, j) != <PyObject*>it:  # (unchanged: no refcount writes)
            objs[j] = it
        if stamps != NULL:
            # An item whose dict did not change since its leaves were found unchanged: only
            # its loop positions can differ (most items of most updates).
            if unchanged_since(d, <PyObject*>it, stamps[j], attrs):
                ch = loop_mask(d, j, n, flat, j * L) if d.has_loop_leaves else 0
            else:
                item_mask_fast(d, it, frame, j, n, flat, j * L, env, &ch, &stamps[j])
        else:
            if need_frame:
                frame = new_frame(d, it, None)
            item_mask_fast(d, it, frame, j, n, flat, j * L, env, &ch)
        if not ch and not outer_dirty:
            continue
        if ch:
            store_leaves(d.leaves, it, d.target_reg, frame, j, n, env, flat, j * L)
        if loop is not None:
            loop.index0 = j
        S.append(new_frame(d, it, loop))
        try:
            sub = update_item(d, <ItemState>old[j], S, CH,
                              -1 if d.sequential else mask_object(ch))
        finally:
            S.pop()
        if sub is not None:
            if updates is None:
                updates = []
            updates.append([OP_UPDATE, (<ItemState>old[j]).key, sub])
    for j in range(n, m):
        ops.append([OP_REMOVE, (<ItemState>old[j]).key])
    if n < m:
        del old[n:]
        del flat[n * L:]
        del objs[n:]
    if updates is not None:
        ops.extend(updates)
    cdef list fresh = []
    for j in range(m, n):
        it = items[j]
        if loop is not None:
            loop.index0 = j
        frame = new_frame(d, it, loop)
        st = ItemState()
        S.append(frame)
        try:
            render_state(d.body, S, st)
        finally:
            S.pop()
        append_leaves(d, it, frame, j, n, env, flat)
        st.pos = j
        fresh.append(st)
    if fresh:
        number_items(rs, fresh)
        old.extend(fresh)
        objs.extend(items[m:])
        ops.append([OP_APPEND, [item_tree(<ItemState>x) for x in fresh]])
    if not ops:
        return None
    return smallest(d, ops, old, len(fresh), m - lim, len(updates) if updates else 0)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_aligned(ForDesc d, RangeState rs, list items, list src, list S, list CH):
    """Items matched to old ones by ``src`` (an old position, or -1 for a new item): update the
    matched, render the new, and diff the key order into ops."""
    cdef list old = rs.items
    cdef list old_flat = rs.leaves
    cdef Py_ssize_t i, j, n = len(items), L = d.nleaves
    cdef bint outer_dirty = d.sequential or d.body.volatile or affected(d.body_outer, CH)
    cdef list states = [None] * n
    cdef list flat = []
    cdef list fresh = []
    cdef dict pending = {}
    cdef unsigned long long ch
    cdef ItemState o, st
    cdef list frame
    cdef Py_ssize_t last = -1
    cdef bint moved = False
    for j in range(n):
        i = <Py_ssize_t>src[j]
        if i >= 0:
            moved = moved or i < last
            last = i
    # Items that moved may look exactly like the ones they swapped places with (two equal rows
    # reversed): then nothing changed for the client, and the update must say so.
    cdef list before = [content_tree(<ItemState>x) for x in old] if moved and n == len(old) else None
    env = S[0][0].env
    loop = make_loop(d, items)
    for j in range(n):
        it = items[j]
        i = <Py_ssize_t>src[j]
        if loop is not None:
            loop.index0 = j
        frame = new_frame(d, it, loop)
        if i >= 0:
            o = <ItemState>old[i]
            item_mask_fast(d, it, frame, j, n, old_flat, i * L, env, &ch)
            if ch:
                append_leaves(d, it, frame, j, n, env, flat)
            else:
                copy_leaves(flat, old_flat, i * L, L)
            if ch or outer_dirty:
                S.append(frame)
                try:
                    sub = update_item(d, o, S, CH, -1 if d.sequential else mask_object(ch))
                finally:
                    S.pop()
                if sub is not None:
                    pending[id(o)] = sub
            states[j] = o
            continue
        st = ItemState()
        S.append(frame)
        try:
            render_state(d.body, S, st)
        finally:
            S.pop()
        append_leaves(d, it, frame, j, n, env, flat)
        states[j] = st
        fresh.append(st)
    rs.leaves = flat
    rs.objs = list(items)
    if before is not None and not fresh and [content_tree(<ItemState>x) for x in states] == before:
        # Keep the client's order of keys; each position takes the content now there.
        contents = [((<ItemState>x).desc, (<ItemState>x).vals) for x in states]
        for j in range(n):
            (<ItemState>old[j]).desc, (<ItemState>old[j]).vals = contents[j]
        return None
    number_items(rs, fresh)
    cdef list old_keys = [(<ItemState>x).key for x in old]
    rs.items = states
    set_positions(states)
    return range_ops(d, old_keys, states, pending)


cdef dict content_tree(ItemState st):
    """What the client holds of an item, but for its own key."""
    cdef dict tree = item_tree(st)
    tree.pop(KEY, None)
    return tree


cdef list align_unkeyed(ForDesc d, RangeState rs, list items, list S):
    """For each new item, the old position it continues (-1: a new item); None when every
    position keeps its item (the common case, see update_in_place)."""
    cdef list objs = rs.objs
    cdef Py_ssize_t n = len(items), m = len(objs), p = 0, s = 0, k
    cdef Py_ssize_t lim = n if n < m else m
    while p < lim and PyList_GET_ITEM(items, p) == PyList_GET_ITEM(objs, p):
        p += 1
    if p == lim:
        return None
    while s < lim - p and PyList_GET_ITEM(items, n - 1 - s) == PyList_GET_ITEM(objs, m - 1 - s):
        s += 1
    # What differs is the middle: old [p, m - s), new [p, n - s).
    cdef Py_ssize_t a = m - s - p, b = n - s - p
    cdef list middle = None  # for each new middle item: an old position, or -1
    cdef Py_ssize_t same_place
    if a and b:
        same_place = unchanged_in_place(d, rs, items, p, a if a < b else b, S)
        middle = match_middle([id(x) for x in objs[p:m - s]],
                              [id(x) for x in items[p:n - s]], p, same_place)
        if middle is None:
            # Nothing recognised by identity (the rows were rebuilt, say): try the values.
            middle = match_middle(old_signatures(d, rs, p, a),
                                  new_signatures(d, items, p, b, S), p, same_place)
        if middle is None:
            if a == b:
                return None  # same length, nothing moved: every position keeps its item
            middle = [p + k if k < a else -1 for k in range(b)]
    else:
        middle = [-1] * b  # only inserted (or only removed) items
    cdef list src = list(range(p))
    src.extend(middle)
    src.extend(range(m - s, m))
    return src


cdef Py_ssize_t unchanged_in_place(ForDesc d, RangeState rs, list items, Py_ssize_t p,
                                   Py_ssize_t count, list S) except -1:
    """How many of the ``count`` items from ``p`` on read what the old item at their position
    read: what keeping every position would leave unchanged."""
    cdef Py_ssize_t k, j, n = len(items), same = 0
    cdef unsigned long long ch
    cdef list frame = None
    env = S[0][0].env
    for k in range(count):
        j = p + k
        it = items[j]
        if d.target_reg < 0:
            frame = new_frame(d, it, None)
        item_mask_fast(d, it, frame, j, n, rs.leaves, j * d.nleaves, env, &ch)
        if not ch:
            same += 1
    return same


cdef list match_middle(list old_tokens, list new_tokens, Py_ssize_t base,
                       Py_ssize_t same_place):
    """Old positions (offset by ``base``) for the new middle items, or None when keeping every
    position leaves at least as many items unchanged (``same_place``) as any matching does.

    Equal tokens match, in order where they can; the matched items that stay in order (a
    longest increasing run of their old positions) are anchors, and between two anchors the
    unmatched old and new items are paired in order: edited in place.  Matched items off that
    run have moved."""
    cdef Py_ssize_t a = len(old_tokens), b = len(new_tokens), k, i
    cdef dict where = {}
    for i in range(a - 1, -1, -1):
        where.setdefault(old_tokens[i], []).append(i)
    cdef list match = [-1] * b
    cdef list taken = [False] * a
    cdef list spots
    cdef Py_ssize_t last = -1, t
    for k in range(b):
        spots = where.get(new_tokens[k])
        if not spots:
            continue
        # Equal items (the same value twice): take the first one after the last match, so the
        # order is kept where it can be; else the first one left.
        i = spots[len(spots) - 1]
        for t in range(len(spots) - 1, -1, -1):
            if <Py_ssize_t>spots[t] > last:
                i = spots[t]
                del spots[t]
                break
        else:
            spots.pop()
        match[k] = i
        taken[i] = True
        last = i
    cdef list matched = [k for k in range(b) if match[k] >= 0]
    cdef list run = lis_keep([match[k] for k in matched])
    if len(run) <= same_place:
        return None
    # Pair what lies between consecutive anchors, in order.
    cdef list anchors = [matched[r] for r in run]
    cdef Py_ssize_t prev_new = -1, prev_old = -1, end_new, end_old
    cdef list gap_old, gap_new
    for r in range(len(anchors) + 1):
        if r < len(anchors):
            end_new = anchors[r]
            end_old = match[end_new]
        else:
            end_new = b
            end_old = a
        gap_old = [i for i in range(prev_old + 1, end_old) if not taken[i]]
        gap_new = [k for k in range(prev_new + 1, end_new) if match[k] < 0]
        for i in range(min(len(gap_old), len(gap_new))):
            match[gap_new[i]] = gap_old[i]
        prev_new = end_new
        prev_old = end_old
    return [base + i if i >= 0 else -1 for i in match]


cdef list old_signatures(ForDesc d, RangeState rs, Py_ssize_t p, Py_ssize_t count):
    """What the old items at ``p…`` read (loop positions aside), as hashable tokens."""
    cdef list flat = rs.leaves
    cdef Py_ssize_t L = d.nleaves
    return [signature(d, flat[(p + k) * L:(p + k + 1) * L]) for k in range(count)]


cdef list new_signatures(ForDesc d, list items, Py_ssize_t p, Py_ssize_t count, list S):
    cdef list out = []
    cdef list leaves, frame
    cdef Py_ssize_t k, n = len(items)
    env = S[0][0].env
    for k in range(count):
        it = items[p + k]
        frame = new_frame(d, it, None)
        leaves = []
        append_leaves(d, it, frame, p + k, n, env, leaves)
        out.append(signature(d, leaves))
    return out


cdef object signature(ForDesc d, list leaves):
    """The item's leaves without loop positions; a token equal to nothing when one of them is
    a mutable object (its value cannot be compared)."""
    cdef list out = []
    cdef Py_ssize_t k
    for k in range(d.nleaves):
        if d.lcode[k] == LEAF_LOOP:
            continue
        v = leaves[k]
        if v is _UNSTABLE:
            return object()
        out.append((type(v), v))
    return tuple(out)
