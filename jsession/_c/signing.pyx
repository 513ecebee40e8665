# cython: freethreading_compatible = True
"""HMAC signatures of message frames, keyed once per Signer, over OpenSSL.

The interface is written down in signing.pyi; jsession._py.signing is the pure-Python twin.

HMAC is built from two keyed digest states, H(key ^ ipad) and H(key ^ opad), computed
once in the constructor. A message costs one context copy from each, which is all the
per-message work OpenSSL's own HMAC does after keying, without its per-call allocations.
The same digest calls exist in OpenSSL 1.1.1 and 3.x; hmac_shim.h hides the rest.

A Signer never changes after construction, so one instance is safe to share between
threads: each call works on its own context and only reads the keyed templates.
"""

cimport cython
from cpython.object cimport PyObject
from cpython.buffer cimport (
    PyBUF_FULL_RO,
    PyBUF_SIMPLE,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_CheckBuffer,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_AsTuple, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memset

from jsession._c.openssl cimport (
    CRYPTO_memcmp,
    ERR_clear_error,
    ERR_error_string_n,
    ERR_get_error,
    EVP_Digest,
    EVP_DigestFinal_ex,
    EVP_DigestInit_ex,
    EVP_DigestUpdate,
    EVP_MAX_MD_SIZE,
    EVP_MD,
    EVP_MD_CTX,
    EVP_MD_CTX_copy_ex,
    EVP_MD_CTX_free,
    EVP_MD_CTX_new,
    JSS_HAVE_SHA256_STATE,
    JSS_MAX_BLOCK,
    OPENSSL_cleanse,
    jss_digest_block_size,
    jss_digest_fetch,
    jss_digest_free,
    jss_digest_size,
    jss_fips_enabled,
    jss_sha256_final,
    jss_sha256_init,
    jss_sha256_state,
    jss_sha256_update,
)

import hashlib

__all__ = ["Signer"]

# hashlib attribute -> OpenSSL digest name. These spellings are known to both 1.1.1
# (case-sensitive long names) and 3.x. Any other name goes to Python's hmac.
cdef dict _OPENSSL_NAMES = {
    "md5": b"md5",
    "sha1": b"sha1",
    "sha224": b"sha224",
    "sha256": b"sha256",
    "sha384": b"sha384",
    "sha512": b"sha512",
    "sha3_224": b"sha3-224",
    "sha3_256": b"sha3-256",
    "sha3_384": b"sha3-384",
    "sha3_512": b"sha3-512",
    "blake2b": b"blake2b512",
    "blake2s": b"blake2s256",
}

cdef enum:
    # From this many bytes in total, hashing runs with the GIL released.
    _NOGIL_BYTES = 65536
    # Frames whose views fit on the stack (a message has 4).
    _STACK_FRAMES = 8
    # Who a buffer belongs to, for error messages (frames are numbered from 0).
    _KEY = -1
    _SIGNATURE = -2
    # _mac failures.
    _FAILED = -1
    _NO_MEMORY = -2

cdef const char *_HEX_DIGITS = b"0123456789abcdef"


cdef str _owner(Py_ssize_t index):
    if index == _KEY:
        return "key"
    if index == _SIGNATURE:
        return "signature"
    return f"frame {index}"


cdef extern from "Python.h":
    # PyBuffer_FillInfo, declared here to accept a NULL exporter
    int _fill_view "PyBuffer_FillInfo" (Py_buffer *view, void *exporter, void *buf, Py_ssize_t len,
                                         int readonly, int flags) except -1


cdef int _acquire(object obj, Py_buffer *view, Py_ssize_t index) except -1:
    """Fill view with obj's bytes, read in place; fail as memoryview(obj) would."""
    if type(obj) is bytes:
        # immutable, and kept alive by the caller's reference: no buffer to export
        # (a view without obj is one PyBuffer_Release leaves alone)
        _fill_view(view, NULL, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj), 1, PyBUF_SIMPLE)
        return 0
    if not PyObject_CheckBuffer(obj):
        raise TypeError(f"{_owner(index)} does not support the buffer protocol: {type(obj).__name__}")
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
        return 0
    except Exception:
        pass
    # Refused as plain bytes: ask as memoryview() does, so that the pure twin's errors
    # are the ones raised here too.
    PyObject_GetBuffer(obj, view, PyBUF_FULL_RO)
    if PyBuffer_IsContiguous(view, b"C"):
        return 0
    PyBuffer_Release(view)
    raise ValueError(f"{_owner(index)} is not a contiguous buffer")


cdef int _raise_openssl(str what) except -1:
    """Raise RuntimeError with OpenSSL's first queued reason, leaving its queue empty."""
    cdef char reason[256]
    cdef unsigned long code = ERR_get_error()
    ERR_clear_error()
    if code == 0:
        raise RuntimeError(f"OpenSSL {what} failed")
    ERR_error_string_n(code, reason, sizeof(reason))
    raise RuntimeError(f"OpenSSL {what} failed: {reason.decode('ascii', 'replace')}")


cdef tuple _frame_tuple(object frames):
    # A private tuple: a list could be changed by other code while its items are in use.
    if type(frames) is tuple:
        return <tuple>frames
    if type(frames) is list:
        return PyList_AsTuple(frames)
    try:
        it = iter(frames)
    except TypeError:
        raise TypeError(f"frames must be an iterable of buffers, not {type(frames).__name__}") from None
    return tuple(it)


cdef inline void _hexlify(const unsigned char *data, size_t size, char *out) noexcept nogil:
    cdef size_t i
    for i in range(size):
        out[2 * i] = _HEX_DIGITS[data[i] >> 4]
        out[2 * i + 1] = _HEX_DIGITS[data[i] & 15]


@cython.final
cdef class Signer:
    cdef const EVP_MD *_md
    cdef EVP_MD_CTX *_inner  # digest state after absorbing key ^ ipad
    cdef EVP_MD_CTX *_outer  # digest state after absorbing key ^ opad
    cdef size_t _size  # digest length in bytes
    cdef object _fallback  # the pure twin, for digests not served by OpenSSL here
    cdef str _digest_name
    # SHA-256 only: the same two keyed states as plain structs, copied by value per message
    cdef bint _sha256
    cdef jss_sha256_state _sha_inner
    cdef jss_sha256_state _sha_outer

    # Set up in __cinit__ rather than __init__ so that no later call can rekey an
    # instance other threads are using.
    def __cinit__(self, key, digest_name):
        cdef Py_buffer key_view
        if not isinstance(digest_name, str):
            raise TypeError(f"digest_name must be a str, not {type(digest_name).__name__}")
        _acquire(key, &key_view, _KEY)
        try:
            if key_view.len == 0:
                raise ValueError("key must not be empty")
            # The reference's lookup, raising what it raises for unknown names.
            getattr(hashlib, digest_name)
            name = _OPENSSL_NAMES.get(digest_name)
            if name is not None:
                self._md = jss_digest_fetch(name)
                if self._md == NULL:
                    ERR_clear_error()  # not in this OpenSSL (a FIPS build, say)
            if self._md == NULL:
                # Python's hmac decides what works and what is raised.
                from jsession._py.signing import Signer as PythonSigner

                self._fallback = PythonSigner(key, digest_name)
            else:
                # FIPS mode: every digest through the provider OpenSSL was told to use
                self._sha256 = (JSS_HAVE_SHA256_STATE and digest_name == "sha256"
                                and not jss_fips_enabled())
                self._key(<const unsigned char *>key_view.buf, <size_t>key_view.len)
        finally:
            PyBuffer_Release(&key_view)
        self._digest_name = digest_name

    def __dealloc__(self):
        OPENSSL_cleanse(&self._sha_inner, sizeof(self._sha_inner))
        OPENSSL_cleanse(&self._sha_outer, sizeof(self._sha_outer))
        EVP_MD_CTX_free(self._inner)
        EVP_MD_CTX_free(self._outer)
        if self._md != NULL:
            jss_digest_free(self._md)

    cdef int _key(self, const unsigned char *key, size_t key_size) except -1:
        """Build the two keyed templates (RFC 2104), wiping every copy of key material."""
        cdef unsigned char block[JSS_MAX_BLOCK]
        cdef unsigned char hashed_key[EVP_MAX_MD_SIZE]
        cdef unsigned int hashed_size = 0
        cdef int size = jss_digest_size(self._md)
        cdef int block_size = jss_digest_block_size(self._md)
        cdef size_t i
        if size <= 0 or size > EVP_MAX_MD_SIZE or block_size < size or block_size > JSS_MAX_BLOCK:
            raise RuntimeError(f"unexpected digest sizes from OpenSSL: {size}, block {block_size}")
        self._size = <size_t>size
        try:
            if key_size > <size_t>block_size:
                if not EVP_Digest(key, key_size, hashed_key, &hashed_size, self._md, NULL):
                    _raise_openssl("key digest")
                key = hashed_key
                key_size = hashed_size
            self._inner = EVP_MD_CTX_new()
            self._outer = EVP_MD_CTX_new()
            if self._inner == NULL or self._outer == NULL:
                raise MemoryError()
            memset(block, 0x36, block_size)
            for i in range(key_size):
                block[i] ^= key[i]
            if not (EVP_DigestInit_ex(self._inner, self._md, NULL)
                    and EVP_DigestUpdate(self._inner, block, block_size)):
                _raise_openssl("digest keying")
            if self._sha256 and not (jss_sha256_init(&self._sha_inner)
                                   and jss_sha256_update(&self._sha_inner, block, block_size)):
                _raise_openssl("digest keying")
            memset(block, 0x5C, block_size)
            for i in range(key_size):
                block[i] ^= key[i]
            if not (EVP_DigestInit_ex(self._outer, self._md, NULL)
                    and EVP_DigestUpdate(self._outer, block, block_size)):
                _raise_openssl("digest keying")
            if self._sha256 and not (jss_sha256_init(&self._sha_outer)
                                   and jss_sha256_update(&self._sha_outer, block, block_size)):
                _raise_openssl("digest keying")
        finally:
            OPENSSL_cleanse(block, sizeof(block))
            OPENSSL_cleanse(hashed_key, sizeof(hashed_key))
        return 0

    cdef int _mac(self, const Py_buffer *views, Py_ssize_t count, unsigned char *out) noexcept nogil:
        """HMAC of the views' bytes, in order, into out: 0, _FAILED or _NO_MEMORY."""
        cdef unsigned char inner[EVP_MAX_MD_SIZE]
        cdef unsigned int inner_size = 0
        cdef unsigned int out_size = 0
        cdef Py_ssize_t i
        cdef int ok
        cdef EVP_MD_CTX *ctx
        if self._sha256:
            return self._mac_sha256(views, count, out)
        ctx = EVP_MD_CTX_new()
        if ctx == NULL:
            return _NO_MEMORY
        ok = EVP_MD_CTX_copy_ex(ctx, self._inner)
        i = 0
        while ok and i < count:
            if views[i].len:
                ok = EVP_DigestUpdate(ctx, views[i].buf, <size_t>views[i].len)
            i += 1
        ok = (ok
              and EVP_DigestFinal_ex(ctx, inner, &inner_size)
              and EVP_MD_CTX_copy_ex(ctx, self._outer)
              and EVP_DigestUpdate(ctx, inner, inner_size)
              and EVP_DigestFinal_ex(ctx, out, &out_size)
              and out_size == self._size)
        EVP_MD_CTX_free(ctx)
        return 0 if ok else _FAILED

    cdef int _mac_sha256(self, const Py_buffer *views, Py_ssize_t count, unsigned char *out) noexcept nogil:
        """_mac for SHA-256 over the struct states: no allocation, no dispatch."""
        cdef unsigned char inner[32]
        cdef jss_sha256_state state = self._sha_inner
        cdef Py_ssize_t i
        cdef int ok = 1
        for i in range(count):
            if views[i].len:
                ok = ok and jss_sha256_update(&state, views[i].buf, <size_t>views[i].len)
        ok = ok and jss_sha256_final(inner, &state)
        state = self._sha_outer
        ok = ok and jss_sha256_update(&state, inner, 32) and jss_sha256_final(out, &state)
        OPENSSL_cleanse(&state, sizeof(state))
        OPENSSL_cleanse(inner, sizeof(inner))
        return 0 if ok else _FAILED

    cdef bint _hex_mac_small_bytes(self, list frames, char *out) noexcept:
        """_hex_mac of a short list of small bytes frames, read where they are: the GIL is
        held and no Python code runs, so the list cannot change meanwhile (no private
        tuple needed). False, having done nothing, for any other list."""
        cdef Py_buffer views[_STACK_FRAMES]
        cdef unsigned char mac[EVP_MAX_MD_SIZE]
        cdef Py_ssize_t i, total = 0, count = PyList_GET_SIZE(frames)
        cdef PyObject *item
        if count > _STACK_FRAMES:
            return False
        for i in range(count):
            item = PyList_GET_ITEM(frames, i)
            if type(<object>item) is not bytes:
                return False
            total += PyBytes_GET_SIZE(<object>item)
        if total >= _NOGIL_BYTES:
            return False
        for i in range(count):
            item = PyList_GET_ITEM(frames, i)
            # a view without exporter, as _acquire makes for bytes: nothing to release
            views[i].buf = PyBytes_AS_STRING(<object>item)
            views[i].len = PyBytes_GET_SIZE(<object>item)
        if self._mac(views, count, mac) != 0:
            return False  # the general path raises OpenSSL's error
        _hexlify(mac, self._size, out)
        return True

    cdef int _hex_mac(self, object frames, char *out) except -1:
        """Write the lowercase hex HMAC of frames (2 * _size chars) to out."""
        if type(frames) is list and self._hex_mac_small_bytes(<list>frames, out):
            return 0
        cdef tuple items = _frame_tuple(frames)
        cdef Py_ssize_t count = len(items)
        cdef Py_buffer stack_views[_STACK_FRAMES]
        cdef Py_buffer *views = stack_views
        cdef Py_ssize_t held = 0
        cdef Py_ssize_t total = 0
        cdef unsigned char mac[EVP_MAX_MD_SIZE]
        cdef int rc
        if count > _STACK_FRAMES:
            views = <Py_buffer *>PyMem_Malloc(count * sizeof(Py_buffer))
            if views == NULL:
                raise MemoryError()
        try:
            while held < count:
                _acquire(items[held], &views[held], held)
                total += views[held].len
                held += 1
            if total >= _NOGIL_BYTES:
                with nogil:
                    rc = self._mac(views, count, mac)
            else:
                rc = self._mac(views, count, mac)
            if rc == _NO_MEMORY:
                raise MemoryError()
            if rc != 0:
                _raise_openssl("HMAC")
            _hexlify(mac, self._size, out)
        finally:
            while held > 0:
                held -= 1
                PyBuffer_Release(&views[held])
            if views != stack_views:
                PyMem_Free(views)
        return 0

    @property
    def digest_name(self):
        return self._digest_name

    @property
    def hex_size(self):
        if self._fallback is not None:
            return self._fallback.hex_size
        return 2 * self._size

    def sign(self, frames):
        cdef char hex_mac[2 * EVP_MAX_MD_SIZE]
        if self._fallback is not None:
            return self._fallback.sign(frames)
        self._hex_mac(frames, hex_mac)
        return PyBytes_FromStringAndSize(hex_mac, 2 * self._size)

    def verify(self, signature, frames):
        return self._verify(signature, frames) == 1

    cdef int _verify(self, signature, frames) except -1:
        """1 if signature is the HMAC of frames, else 0."""
        cdef char hex_mac[2 * EVP_MAX_MD_SIZE]
        cdef Py_buffer given
        if self._fallback is not None:
            return 1 if self._fallback.verify(signature, frames) else 0
        _acquire(signature, &given, _SIGNATURE)
        try:
            self._hex_mac(frames, hex_mac)
            # The length is public (hex_size); only the content is compared in constant time.
            return (given.len == <Py_ssize_t>(2 * self._size)
                    and CRYPTO_memcmp(given.buf, hex_mac, 2 * self._size) == 0)
        finally:
            PyBuffer_Release(&given)

    def __repr__(self):
        return f"<Signer digest_name={self._digest_name!r}>"

    def __reduce__(self):
        raise TypeError("a Signer holds a key: it cannot be pickled or copied")


cdef int verify(object signer, object signature, object frames) except -1:
    """signer.verify(signature, frames) as 1 or 0, without a Python call for a Signer."""
    if type(signer) is Signer:
        return (<Signer>signer)._verify(signature, frames)
    return 1 if signer.verify(signature, frames) else 0
