# Dict stamps for lt_engine.journal (included by _core.pyx): whether a dict of scalars held by a
# tracked list changed since a mark, without encoding it.
#
# A journal follows the items a tracked list cannot see change (a plain dict appended to it) by
# their encoding; for a dict whose values are all immutable scalars, the dict's version
# (lt_dict_stamp: changed by every change of the dict, never reused) says as much for the cost
# of reading a field.  A dict holding anything else (a list, a nested dict) may change inside
# without its own version moving: it has no stamp, and is compared by its encoding.


cdef inline bint scalar_type(PyObject* tp):
    return (tp == <PyObject*>str or tp == <PyObject*>int or tp == <PyObject*>bool
            or tp == <PyObject*>float or tp == <PyObject*>Py_TYPE(<PyObject*>None)
            or tp == <PyObject*>bytes)


cdef unsigned long long stamp_of(object value):
    cdef PyObject* tp = <PyObject*>Py_TYPE(<PyObject*>value)
    if tp != <PyObject*>dict and tp != <PyObject*>_TrackedDict:
        return 0
    for v in (<dict>value).values():
        if not scalar_type(<PyObject*>Py_TYPE(<PyObject*>v)):
            return 0
    return lt_dict_stamp(<PyObject*>value)


def dict_stamp(object value):
    """The version of ``value`` if it is a dict (or tracked dict) whose values are all ``int``,
    ``float``, ``str``, ``bool``, ``bytes`` or ``None``; 0 otherwise (and on Pythons whose dicts
    have no version)."""
    return stamp_of(value)


def opaque_scan(object items, object unseen):
    """The items of the list ``items`` that ``unseen(item)`` says its holder cannot see change
    (plain dicts and lists are, scalars are not, without asking): ``(at, stamps, others,
    twice)``: the dicts of scalars as arrays of indices (``"q"``) and stamps (``"Q"``), the
    indices of the others, and whether one object is at two of these places."""
    if not isinstance(items, list):
        raise TypeError("opaque_scan: a list")
    cdef list lst = <list>items
    cdef Py_ssize_t n = PyList_GET_SIZE(lst)
    cdef Py_ssize_t i
    cdef PyObject* item
    cdef PyObject* tp
    cdef unsigned long long stamp
    cdef list at = []
    cdef list stamps = []
    cdef list others = []
    cdef set ids = set()
    for i in range(n):
        item = PyList_GET_ITEM(lst, i)
        tp = <PyObject*>Py_TYPE(item)
        if scalar_type(tp):
            continue
        if tp != <PyObject*>dict and tp != <PyObject*>list and not unseen(<object>item):
            continue
        ids.add(<size_t>item)
        stamp = stamp_of(<object>item)
        if stamp:
            at.append(i)
            stamps.append(stamp)
        else:
            others.append(i)
    return (_array("q", at), _array("Q", stamps), others,
            len(ids) != len(at) + len(others))


def restamped(object items, const long long[:] at, const unsigned long long[:] stamps):
    """The indices ``at[k]`` whose ``items[at[k]]`` (a list, or a subclass: read as a list) no
    longer has the stamp ``stamps[k]`` (changed, or replaced by another value)."""
    if not isinstance(items, list):
        raise TypeError("restamped: a list")
    cdef list lst = <list>items
    cdef list out = []
    cdef Py_ssize_t n = PyList_GET_SIZE(lst)
    cdef Py_ssize_t k, i
    cdef PyObject* item
    cdef PyObject* tp
    for k in range(at.shape[0]):
        i = at[k]
        if i < 0 or i >= n:
            out.append(i)
            continue
        item = PyList_GET_ITEM(lst, i)
        tp = <PyObject*>Py_TYPE(item)
        if (tp != <PyObject*>dict and tp != <PyObject*>_TrackedDict) \
                or lt_dict_stamp(item) != stamps[k]:
            out.append(i)
    return out


def held(object items, object value):
    """How many places of the list ``items`` hold ``value`` itself (not an equal value)."""
    if not isinstance(items, list):
        raise TypeError("held: a list")
    cdef list lst = <list>items
    cdef Py_ssize_t n = PyList_GET_SIZE(lst)
    cdef Py_ssize_t i, count = 0
    cdef PyObject* target = <PyObject*>value
    for i in range(n):
        if PyList_GET_ITEM(lst, i) == target:
            count += 1
    return count
