# The general range update: matching items to old ones and diffing the key order into ops (included by _core.pyx).

# Each general range update takes a new number; an old item state stamped with it (``claim``)
# already has its place in the new order.
cdef unsigned long long _generation = 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object update_items(ForDesc d, RangeState rs, list items, list S, list CH):
    """The general update of a range with a key attribute (_unkeyed.pxi has the others): match
    each item to an old one (same position, then the old position plus the current shift, then
    by key), update or render it, then diff
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
    # Per new position: a stamp (see RangeState.stamps) stays only where the item kept its
    # position and its leaves; every other way of filling a position clears it.
    cdef unsigned long long* stamps = NULL
    cdef bint attrs = fast_attrs(env)
    if d.stampable:
        stamps_for(rs, n)
        stamps = rs.stamps
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
                if stamps == NULL:
                    item_mask_fast(d, it, frame, i, n, old_flat, i * L, env, &ch)
                elif unchanged_since(d, <PyObject*>it, stamps[i], attrs):
                    ch = loop_mask(d, i, n, old_flat, i * L) if d.has_loop_leaves else 0
                else:
                    item_mask_fast(d, it, frame, i, n, old_flat, i * L, env, &ch, &stamps[i])
                if not ch and not outer_dirty:
                    o.claim = gen
                    if states is not None:
                        states[i] = o
                        copy_leaves(flat, old_flat, i * L, L)
                    continue
                if (ch & d.key_mask_c) or key_outer_dirty:
                    o = None  # its key may have changed: find the item by key below
        if stamps != NULL and o is None:
            stamps[i] = 0  # filled below from another old position, or rendered anew
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
            if o.claim == gen or (ch & d.key_mask_c) or key_outer_dirty:
                o = None
            else:
                shifted = True
        if o is None:
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
    if in_order and (suffix or prefix):
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


cdef object diff_vals(NodeDesc d, tuple old, tuple new):
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
                sub = wire_str(<str>b)
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


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


cdef str compact(object value):
    return _encode(value)


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
