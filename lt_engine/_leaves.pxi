# Leaves: reading the data paths a scope watches and finding which changed (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Leaves


cdef object read_path(object obj, tuple steps, object env):
    cdef object kind, key, fast, found_obj
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
        elif kind == 0 and type(key) is str and fast_attrs(env):
            found_obj = obj_attr(obj, key)
            if found_obj is not _NOATTR:
                obj = found_obj
                continue
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
    cdef object value
    if leaf.nsteps == 1:
        if plain_dict(root):
            if leaf.fast0 or leaf.kind0 == 1:
                found = PyDict_GetItemWithError(root, leaf.key0)
                if found is not NULL:
                    return leaf_value(<object>found)
                if leaf.fast0:
                    return _MISSING
        elif leaf.kind0 == 0 and type(leaf.key0) is str and fast_attrs(env):
            value = obj_attr(root, leaf.key0)
            if value is not _NOATTR:
                return leaf_value(value)
            return attr_leaf_slow(root, leaf.key0, env)  # not a third getattr in read_path
    return read_path(root, leaf.steps, env)


cdef object attr_leaf_slow(object obj, object name, object env):
    """``obj.name`` as a leaf, the way read_path reads one attribute step through jinja2 (for
    when the C read raised: getitem next, else Undefined)."""
    if isinstance(obj, Undefined):
        return _MISSING
    try:
        return leaf_value(env.getattr(obj, name))
    except Exception:
        return _UNSTABLE


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


cdef inline object current_leaf(LeafDesc leaf, object it, Py_ssize_t target_reg, list frame,
                                Py_ssize_t i, Py_ssize_t n, object env):
    """A leaf's value now: a loop position, or a path from ``it`` (the loop item) or ``frame``."""
    if leaf.loop_attr:
        return loop_leaf(leaf.loop_attr, i, n)
    if leaf.root == target_reg:
        return read_leaf(leaf, it, env)
    return read_leaf(leaf, frame[leaf.root], env)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef tuple read_leaves(tuple leaves, object it, Py_ssize_t target_reg, list frame,
                       Py_ssize_t i, Py_ssize_t n, object env):
    """All leaves of a scope instance, as a tuple."""
    cdef Py_ssize_t k, count = len(leaves)
    cdef tuple out = PyTuple_New(count)
    cdef object v
    for k in range(count):
        v = current_leaf(<LeafDesc>leaves[k], it, target_reg, frame, i, n, env)
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, k, v)
    return out


# Bit 63 of an item mask stands for "some leaf from the 64th on changed".
cdef unsigned long long HIGH_BIT = (<unsigned long long>1) << 63


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int item_mask_fast(ForDesc d, object it, list frame, Py_ssize_t i, Py_ssize_t n,
                               list old, Py_ssize_t off, object env,
                               unsigned long long* out,
                               unsigned long long* stamp=NULL) except -1:
    """Set ``out`` to the bit mask of the item's leaves that no longer equal ``old[off:]``.

    The per-item scan of every update, over the loop's C leaf table. It allocates nothing
    when nothing changed, and the common case is decided by identity: an old leaf is never a
    mutable object (those are stored as UNSTABLE), so finding the very same object again means
    the leaf is unchanged.

    ``stamp`` (ranges with no key attribute, see RangeState.stamps): set to the version of the
    dict every leaf but loop positions was read from, unchanged, or to 0.
    """
    cdef Py_ssize_t k, count = d.nleaves
    cdef unsigned long long mask = 0
    cdef PyObject* old_k
    cdef PyObject* found
    cdef int code
    cdef int* lcode = d.lcode
    cdef PyObject** lkey = d.lkey
    cdef bint is_dict = plain_dict(it)
    cdef bint attrs = not is_dict and fast_attrs(env)
    cdef bint inst_tried = False
    cdef PyObject* inst = NULL  # the item's own __dict__ (borrowed), once looked up
    cdef object value
    cdef PyObject* src = NULL  # the dict every leaf was read from, while that holds
    cdef unsigned long long seen = 0
    if stamp != NULL and d.stampable:
        if is_dict:
            src = <PyObject*>it
        elif attrs:
            inst_tried = True
            inst = own_dict(<PyObject*>it)
            src = inst
        if src != NULL:
            seen = lt_dict_stamp(src)
    for k in range(count):
        old_k = PyList_GET_ITEM(old, off + k)
        code = lcode[k]
        if (code == LEAF_DICT_KEY or code == LEAF_ATTR) and is_dict:
            found = dict_lookup(<PyObject*>it, lkey[k])
            if found == old_k:
                continue
            src = NULL
            if found == NULL and PyErr_Occurred() != NULL:
                return -1
        elif code == LEAF_ATTR and attrs:
            if not inst_tried:
                inst_tried = True
                inst = own_dict(<PyObject*>it)
            if inst != NULL and plain_name(d, k, Py_TYPE(<PyObject*>it)):
                # Borrowed from the object's __dict__: nothing is written to the value, which
                # for a scan of many objects is most of the cost (a cache line each).
                found = dict_lookup(inst, lkey[k])
                if found == old_k:
                    continue
                src = NULL
                if found != NULL:
                    if not same_leaf(<object>old_k, leaf_value(<object>found)):
                        mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
                    continue
                PyErr_Clear()  # not in __dict__ (a class attribute?): the full lookup below
            src = NULL
            found = raw_getattr(<PyObject*>it, lkey[k])
            if found == old_k:
                Py_DECREF(found)
                continue
            if found != NULL:
                value = <object>found
                Py_DECREF(found)
                if not same_leaf(<object>old_k, leaf_value(value)):
                    mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
                continue
            PyErr_Clear()
            # jinja2's own path, without trying getattr from C once more
            if not same_leaf(<object>old_k, attr_leaf_slow(it, <object>lkey[k], env)):
                mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
            continue
        elif code == LEAF_ITEM:
            if <PyObject*>it == old_k:
                continue
        elif code == LEAF_LOOP:
            if same_loop_leaf(d.lattr[k], i, n, <object>old_k):
                continue
            mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
            continue
        src = NULL
        if not same_leaf(<object>old_k, current_leaf(<LeafDesc>PyTuple_GET_ITEM(d.leaves, k), it,
                                                     d.target_reg, frame, i, n, env)):
            mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
    if stamp != NULL:
        # Every leaf but loop positions was the very object it was, read from ``src`` with no
        # Python code run in between: the stored leaves are that dict's, at version ``seen``.
        if src != NULL and seen != 0 and lt_dict_stamp(src) == seen and (
                is_dict or stamp_type_for(d, <PyObject*>it)):
            stamp[0] = seen
        else:
            stamp[0] = 0
    out[0] = mask
    return 0


cdef inline bint stamp_type_for(ForDesc d, PyObject* it):
    """Make the item's class the one stamps of objects are taken under, if every attribute
    leaf was just read from the instance dict on it (plain_name's cache says so)."""
    cdef Py_ssize_t k
    cdef PyTypeObject* tp = Py_TYPE(it)
    if <PyObject*>tp == d.stamp_type:
        return True
    for k in range(d.nleaves):
        if d.lcode[k] == LEAF_ATTR and (<PyObject*>tp != d.ltype[k] or not d.lplain[k]):
            return False
    Py_XINCREF(<PyObject*>tp)
    Py_XDECREF(d.stamp_type)
    d.stamp_type = <PyObject*>tp
    return True


cdef inline bint unchanged_since(ForDesc d, PyObject* it, unsigned long long stamp,
                                 bint attrs):
    """Whether the item's dict (a dict item, or an object's __dict__ read under the stamped
    class) still has the version ``stamp``: then its leaves are the ones stored."""
    cdef PyTypeObject* tp = Py_TYPE(it)
    cdef PyObject* src
    if stamp == 0:
        return False
    # plain_dict's test, on the borrowed pointer: the per-row scan takes no reference
    if <PyObject*>tp == <PyObject*>dict or <PyObject*>tp == <PyObject*>_TrackedDict:
        src = it
    elif attrs and <PyObject*>tp == d.stamp_type:
        src = own_dict(it)
        if src == NULL:
            return False
    else:
        return False
    return lt_dict_stamp(src) == stamp


cdef inline unsigned long long loop_mask(ForDesc d, Py_ssize_t i, Py_ssize_t n, list old,
                                         Py_ssize_t off):
    """The item mask of the loop position leaves that changed (the rest known unchanged)."""
    cdef unsigned long long mask = 0
    cdef Py_ssize_t k
    for k in range(d.nleaves):
        if d.lcode[k] == LEAF_LOOP and not same_loop_leaf(
                d.lattr[k], i, n, <object>PyList_GET_ITEM(old, off + k)):
            mask |= ((<unsigned long long>1) << k) if k < 63 else HIGH_BIT
    return mask


cdef inline PyObject* own_dict(PyObject* obj):
    """The instance __dict__ (borrowed) of an object whose class reads attributes the generic
    way; NULL for others (slots only, custom __getattribute__).  On Python 3.11+ this gives an
    object that kept its attributes inline a real __dict__, as ``vars(obj)`` would."""
    cdef PyTypeObject* tp = Py_TYPE(obj)
    if tp.tp_getattro != PyObject_GenericGetAttr or tp.tp_dictoffset == 0:
        return NULL
    cdef PyObject** where = _PyObject_GetDictPtr(obj)
    if where == NULL:
        return NULL
    return where[0]


cdef inline bint plain_name(ForDesc d, Py_ssize_t k, PyTypeObject* tp):
    """Whether the instance __dict__ answers for leaf ``k``'s name on instances of ``tp``: no
    data descriptor (property, slot, …) of that name along the class's MRO (cached per leaf)."""
    cdef PyObject* descr
    if <PyObject*>tp != d.ltype[k]:
        descr = _PyType_Lookup(tp, d.lkey[k])
        Py_XINCREF(<PyObject*>tp)
        Py_XDECREF(d.ltype[k])
        d.ltype[k] = <PyObject*>tp
        d.lplain[k] = descr == NULL or Py_TYPE(descr).tp_descr_set == NULL
    return d.lplain[k]


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
    for k in range(len(leaves)):
        vals[off + k] = current_leaf(<LeafDesc>PyTuple_GET_ITEM(leaves, k), it, target_reg,
                                     frame, i, n, env)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void append_leaves(ForDesc d, object it, list frame, Py_ssize_t i, Py_ssize_t n,
                        object env, list flat) except *:
    """Append an item's current leaves to a range's flat leaf list."""
    cdef Py_ssize_t k
    for k in range(d.nleaves):
        flat.append(current_leaf(<LeafDesc>PyTuple_GET_ITEM(d.leaves, k), it, d.target_reg,
                                 frame, i, n, env))


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
