# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible = True
"""The replay history of a Session: signatures of accepted messages, oldest first.

The interface is documented in ``replay.pyi``; ``jsession._py.replay`` is the twin.

Storage is a ring of fixed 32-byte keys in arrival order (culling takes the oldest), and
an open-addressing index (linear probing, at most half full, backward-shift deletion) of
ring slots by a SipHash-1-3 of the key under a per-history random key, so that no peer
can choose keys that pile up in one probe run. A lowercase hex signature of at most 32
bytes (hmac-sha256 and shorter) is stored as its raw digest; anything else as a BLAKE2b
fingerprint, with the item itself kept for iteration.

Every operation on the structure runs in C inside a critical section on the instance (a
no-op with the GIL, a per-object lock on free-threaded builds) and calls no Python code
there, so ``add`` (look up, then insert) is one step for every other thread.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

import hashlib
import os
from collections.abc import Set as _AbstractSet

__all__ = ["ReplayHistory", "fingerprint"]

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #define JSS_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
    #define JSS_SIPROUND                                                     \\
        do {                                                                 \\
            v0 += v1; v1 = JSS_ROTL(v1, 13); v1 ^= v0; v0 = JSS_ROTL(v0, 32); \\
            v2 += v3; v3 = JSS_ROTL(v3, 16); v3 ^= v2;                        \\
            v0 += v3; v3 = JSS_ROTL(v3, 21); v3 ^= v0;                        \\
            v2 += v1; v1 = JSS_ROTL(v1, 17); v1 ^= v2; v2 = JSS_ROTL(v2, 32); \\
        } while (0)

    /* SipHash-1-3 of a 32-byte key and a tag byte (the entry's kind). */
    static inline uint64_t jss_siphash_key(uint64_t k0, uint64_t k1,
                                           const unsigned char *key, unsigned char tag)
    {
        uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
        uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
        uint64_t m, b = ((uint64_t)33 << 56) | tag;
        int i;
        for (i = 0; i < 4; i++) {
            memcpy(&m, key + 8 * i, 8);
            v3 ^= m; JSS_SIPROUND; v0 ^= m;
        }
        v3 ^= b; JSS_SIPROUND; v0 ^= b;
        v2 ^= 0xff; JSS_SIPROUND; JSS_SIPROUND; JSS_SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
    }
    """
    uint64_t jss_siphash_key(uint64_t k0, uint64_t k1, const unsigned char *key, unsigned char tag) noexcept nogil


cdef enum:
    KEY_SIZE = 32  # bytes of a key: a raw sha256 digest, or a BLAKE2b-256 fingerprint
    OPAQUE = 255  # kind of a fingerprinted entry (raw digests: their length, 1..32)
    FIRST_CAPACITY = 64  # the ring starts this small and doubles up to the size
    MAX_SIZE = 1 << 30  # slot numbers + 1 must fit the index's uint32

cdef signed char _NIBBLE[256]  # lowercase hex digit -> value, else -1


cdef void _fill_nibbles() noexcept:
    cdef int i
    memset(_NIBBLE, -1, sizeof(_NIBBLE))
    for i in range(10):
        _NIBBLE[48 + i] = <signed char>i
    for i in range(6):
        _NIBBLE[97 + i] = <signed char>(10 + i)


_fill_nibbles()


cdef inline bint _unhex(const unsigned char *p, Py_ssize_t n, unsigned char *key, uint8_t *kind) noexcept nogil:
    """key and kind of a lowercase hex signature of 2..64 chars; False for anything else."""
    cdef Py_ssize_t i
    cdef int hi, lo
    if n < 2 or n > 2 * KEY_SIZE or n & 1:
        return False
    for i in range(n // 2):
        hi = _NIBBLE[p[2 * i]]
        lo = _NIBBLE[p[2 * i + 1]]
        if hi < 0 or lo < 0:
            return False
        key[i] = <unsigned char>((hi << 4) | lo)
    memset(key + n // 2, 0, KEY_SIZE - n // 2)
    kind[0] = <uint8_t>(n // 2)
    return True


cdef object _fingerprint(object item, unsigned char *key, uint8_t *kind):
    """Fill key and kind for item; returns the item to keep (None for a raw digest)."""
    cdef bytes raw
    if type(item) is bytes:
        raw = <bytes>item
    elif isinstance(item, str):
        data = b"s" + (<str>item).encode("utf-8", "surrogatepass")
        original = str(item)
        memcpy(key, PyBytes_AS_STRING(hashlib.blake2b(data, digest_size=KEY_SIZE).digest()), KEY_SIZE)
        kind[0] = OPAQUE
        return original
    else:
        try:
            raw = memoryview(item).tobytes()
        except TypeError:
            raise TypeError(f"a signature is bytes or str, not {type(item).__name__}") from None
    if _unhex(<const unsigned char *>PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), key, kind):
        return None
    memcpy(key, PyBytes_AS_STRING(hashlib.blake2b(b"b" + raw, digest_size=KEY_SIZE).digest()), KEY_SIZE)
    kind[0] = OPAQUE
    return raw


def fingerprint(item):
    """(key, original): the key an entry is stored under, as the twin computes it."""
    cdef unsigned char key[KEY_SIZE]
    cdef uint8_t kind
    original = _fingerprint(item, key, &kind)
    if kind == OPAQUE:
        return b"\xff" + PyBytes_FromStringAndSize(<char *>key, KEY_SIZE), original
    return PyBytes_FromStringAndSize(<char *>key, kind), None


@cython.final
cdef class ReplayHistory:
    cdef unsigned char *_keys  # ring: _capacity keys of KEY_SIZE bytes
    cdef uint8_t *_kinds  # ring: OPAQUE, or a raw digest's length
    cdef uint32_t *_hashes  # ring: the low bits of each key's SipHash
    cdef PyObject **_originals  # ring: the item an OPAQUE entry came from (owned), else NULL
    cdef uint32_t *_table  # index: ring slot + 1, or 0 for empty
    cdef size_t _mask  # index size - 1 (a power of two, at least twice the capacity)
    cdef Py_ssize_t _capacity, _head, _count, _size
    cdef uint64_t _k0, _k1

    is_replay_history = True

    def __cinit__(self, size, items=()):
        seed = os.urandom(16)
        memcpy(&self._k0, PyBytes_AS_STRING(seed), 8)
        memcpy(&self._k1, PyBytes_AS_STRING(seed) + 8, 8)
        self._size = _checked_size(size)

    def __init__(self, size, items=()):
        for item in items:
            self.add(item)

    def __dealloc__(self):
        self._release()

    # ------------------------------------------------------------ C side (no Python code)

    cdef void _release(self) noexcept:
        cdef Py_ssize_t i
        if self._originals != NULL:
            for i in range(self._capacity):
                Py_XDECREF(self._originals[i])
        PyMem_Free(self._keys)
        PyMem_Free(self._kinds)
        PyMem_Free(self._hashes)
        PyMem_Free(self._originals)
        PyMem_Free(self._table)
        self._keys = NULL
        self._kinds = NULL
        self._hashes = NULL
        self._originals = NULL
        self._table = NULL
        self._capacity = self._head = self._count = 0
        self._mask = 0

    cdef void _empty(self) noexcept:
        """Forget every entry, keeping the storage (a cleared history fills up again)."""
        cdef Py_ssize_t i
        if self._table == NULL:
            return
        for i in range(self._capacity):
            Py_XDECREF(self._originals[i])
            self._originals[i] = NULL
        memset(self._table, 0, (self._mask + 1) * sizeof(uint32_t))
        self._head = self._count = 0

    cdef inline Py_ssize_t _find(self, const unsigned char *key, uint8_t kind, uint32_t h) noexcept nogil:
        """Index position of the entry, or -1."""
        cdef size_t pos
        cdef uint32_t e
        if self._count == 0:
            return -1
        pos = h & self._mask
        while True:
            e = self._table[pos]
            if e == 0:
                return -1
            e -= 1
            if (self._hashes[e] == h and self._kinds[e] == kind
                    and memcmp(self._keys + <size_t>e * KEY_SIZE, key, KEY_SIZE) == 0):
                return <Py_ssize_t>pos
            pos = (pos + 1) & self._mask

    cdef inline void _index(self, uint32_t slot) noexcept nogil:
        cdef size_t pos = self._hashes[slot] & self._mask
        while self._table[pos] != 0:
            pos = (pos + 1) & self._mask
        self._table[pos] = slot + 1

    cdef void _unindex(self, uint32_t slot) noexcept nogil:
        """Take slot out of the index, shifting back the entries probed past it."""
        cdef size_t mask = self._mask
        cdef size_t i = self._hashes[slot] & mask, j, home
        cdef uint32_t e
        while self._table[i] != slot + 1:
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            e = self._table[j]
            if e == 0:
                break
            home = self._hashes[e - 1] & mask
            # e stays if its home lies cyclically in (i, j]: moving it would hide it
            if (i < j and i < home <= j) or (j < i and (home > i or home <= j)):
                continue
            self._table[i] = e
            i = j
        self._table[i] = 0

    cdef void _drop(self, Py_ssize_t n) noexcept:
        """Forget the n oldest entries."""
        cdef Py_ssize_t slot
        if n >= self._count:
            self._release()
            return
        while n > 0:
            slot = self._head
            self._unindex(<uint32_t>slot)
            Py_XDECREF(self._originals[slot])  # exact bytes or str: no Python code runs
            self._originals[slot] = NULL
            self._head = (slot + 1) % self._capacity
            self._count -= 1
            n -= 1

    cdef int _rebuild(self, Py_ssize_t capacity) noexcept:
        """Move the entries, oldest first, to a ring of this capacity: 0, or -1 (no memory)."""
        cdef size_t table_size = 16
        cdef Py_ssize_t i, src
        cdef unsigned char *keys
        cdef uint8_t *kinds
        cdef uint32_t *hashes
        cdef PyObject **originals
        cdef uint32_t *table
        while table_size < <size_t>(2 * capacity):
            table_size <<= 1
        keys = <unsigned char *>PyMem_Malloc(<size_t>capacity * KEY_SIZE)
        kinds = <uint8_t *>PyMem_Malloc(<size_t>capacity)
        hashes = <uint32_t *>PyMem_Malloc(<size_t>capacity * sizeof(uint32_t))
        originals = <PyObject **>PyMem_Malloc(<size_t>capacity * sizeof(PyObject *))
        table = <uint32_t *>PyMem_Malloc(table_size * sizeof(uint32_t))
        if keys == NULL or kinds == NULL or hashes == NULL or originals == NULL or table == NULL:
            PyMem_Free(keys)
            PyMem_Free(kinds)
            PyMem_Free(hashes)
            PyMem_Free(originals)
            PyMem_Free(table)
            return -1
        memset(originals, 0, <size_t>capacity * sizeof(PyObject *))
        memset(table, 0, table_size * sizeof(uint32_t))
        for i in range(self._count):
            src = (self._head + i) % self._capacity
            memcpy(keys + <size_t>i * KEY_SIZE, self._keys + <size_t>src * KEY_SIZE, KEY_SIZE)
            kinds[i] = self._kinds[src]
            hashes[i] = self._hashes[src]
            originals[i] = self._originals[src]  # the reference moves with it
        PyMem_Free(self._keys)
        PyMem_Free(self._kinds)
        PyMem_Free(self._hashes)
        PyMem_Free(self._originals)
        PyMem_Free(self._table)
        self._keys, self._kinds, self._hashes, self._originals, self._table = keys, kinds, hashes, originals, table
        self._capacity = capacity
        self._head = 0
        self._mask = table_size - 1
        for i in range(self._count):
            self._index(<uint32_t>i)
        return 0

    cdef int _add(self, const unsigned char *key, uint8_t kind, PyObject *original) noexcept:
        """1: remembered (or size 0); 0: already there; -1: no memory."""
        cdef uint32_t h = <uint32_t>jss_siphash_key(self._k0, self._k1, key, kind)
        cdef Py_ssize_t slot
        if self._find(key, kind, h) >= 0:
            return 0
        if self._size == 0:
            return 1
        if self._count >= self._size:
            # one past the size, the oldest tenth goes (as many as the reference drops)
            self._drop(max((self._count + 1) // 10, 1))
        if self._count == self._capacity:
            if self._rebuild(min(self._size, max(2 * self._capacity, FIRST_CAPACITY))) < 0:
                return -1
        slot = (self._head + self._count) % self._capacity
        memcpy(self._keys + <size_t>slot * KEY_SIZE, key, KEY_SIZE)
        self._kinds[slot] = kind
        self._hashes[slot] = h
        Py_XDECREF(self._originals[slot])
        if original != NULL:
            Py_INCREF(<object>original)
        self._originals[slot] = original
        self._index(<uint32_t>slot)
        self._count += 1
        return 1

    cdef int _resize(self, Py_ssize_t size) noexcept:
        self._size = size
        if self._count > size:
            self._drop(self._count - size)
        if self._capacity > size:
            if size == 0 or self._count == 0:
                self._release()
            elif self._rebuild(size) < 0:
                return -1
        return 0

    # ------------------------------------------------------------ Python side

    def add(self, item):
        """Remember item; False if it was already remembered (with size 0: True, not kept)."""
        return self._add_item(item) == 1

    cdef int _add_item(self, item) except -1:
        """1: remembered (or size 0); 0: already there."""
        cdef unsigned char key[KEY_SIZE]
        cdef uint8_t kind
        cdef int outcome
        original = _fingerprint(item, key, &kind)
        with cython.critical_section(self):
            outcome = self._add(key, kind, NULL if original is None else <PyObject *>original)
        if outcome < 0:
            raise MemoryError()
        return outcome

    def __contains__(self, item):
        cdef unsigned char key[KEY_SIZE]
        cdef uint8_t kind
        cdef Py_ssize_t pos
        try:
            _fingerprint(item, key, &kind)
        except TypeError:
            return False
        with cython.critical_section(self):
            pos = self._find(key, kind, <uint32_t>jss_siphash_key(self._k0, self._k1, key, kind))
        return pos >= 0

    def cull(self):
        """Forget the oldest tenth (and any entries past the size)."""
        with cython.critical_section(self):
            self._drop(max(self._count // 10, self._count - self._size))

    def clear(self):
        with cython.critical_section(self):
            self._empty()

    @property
    def size(self):
        return self._size

    @size.setter
    def size(self, value):
        cdef Py_ssize_t size = _checked_size(value)
        cdef int rc
        with cython.critical_section(self):
            rc = self._resize(size)
        if rc < 0:
            raise MemoryError()

    @property
    def nbytes(self):
        """Bytes held by the structure (ring, index) and the items kept for fingerprints."""
        cdef Py_ssize_t i, total
        with cython.critical_section(self):
            total = (self._capacity * (KEY_SIZE + sizeof(uint8_t) + sizeof(uint32_t) + sizeof(PyObject *))
                     + (<Py_ssize_t>self._mask + 1 if self._table != NULL else 0) * sizeof(uint32_t))
            for i in range(self._capacity):
                if self._originals[i] != NULL:
                    total += (<object>self._originals[i]).__sizeof__()
        return total

    def __len__(self):
        with cython.critical_section(self):
            return self._count

    cdef list _snapshot(self):
        """The entries, oldest first, as the twin gives them."""
        cdef Py_ssize_t i, n, slot
        cdef unsigned char *keys = NULL
        cdef uint8_t *kinds = NULL
        cdef list kept = []
        cdef list out = []
        with cython.critical_section(self):
            n = self._count
            if n:
                keys = <unsigned char *>PyMem_Malloc(<size_t>n * KEY_SIZE)
                kinds = <uint8_t *>PyMem_Malloc(<size_t>n)
                if keys != NULL and kinds != NULL:
                    for i in range(n):
                        slot = (self._head + i) % self._capacity
                        memcpy(keys + <size_t>i * KEY_SIZE, self._keys + <size_t>slot * KEY_SIZE, KEY_SIZE)
                        kinds[i] = self._kinds[slot]
                        kept.append(None if self._originals[slot] == NULL else <object>self._originals[slot])
        try:
            if n and (keys == NULL or kinds == NULL):
                raise MemoryError()
            for i in range(n):
                if kinds[i] == OPAQUE:
                    out.append(kept[i])
                else:
                    out.append(PyBytes_FromStringAndSize(<char *>keys + <size_t>i * KEY_SIZE, kinds[i]).hex().encode("ascii"))
        finally:
            PyMem_Free(keys)
            PyMem_Free(kinds)
        return out

    def __iter__(self):
        return iter(self._snapshot())

    def __eq__(self, other):
        if not isinstance(other, _AbstractSet):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(item in other for item in self._snapshot())

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def copy(self):
        return ReplayHistory(self._size, self._snapshot())

    def update(self, items):
        for item in items:
            self.add(item)

    def __repr__(self):
        return f"<ReplayHistory {len(self)} of {self._size}>"

    def __reduce__(self):
        return (ReplayHistory, (self._size, self._snapshot()))


cdef Py_ssize_t _checked_size(object value) except -1:
    cdef Py_ssize_t size = max(0, int(value))
    if size > MAX_SIZE:
        raise ValueError(f"a replay history holds at most {MAX_SIZE} signatures, not {size}")
    return size


_AbstractSet.register(ReplayHistory)


cdef int add(object history, object item) except -1:
    """history.add(item) as 1 or 0, without a Python call for a ReplayHistory."""
    if type(history) is ReplayHistory:
        return (<ReplayHistory>history)._add_item(item)
    return 1 if history.add(item) else 0
