# libzmq's message type and the types of the functions jsession calls directly
# (transport.pyx, zerocopy.pyx). Nothing is linked: the functions are found at import time
# in the library pyzmq loaded (libzmq.py), and called through pointers of these types.

cdef extern from *:
    """
    /* libzmq 4.x's zmq_msg_t: 64 opaque bytes, aligned as a pointer */
    typedef union { unsigned char _[64]; void *align_p; double align_d; } jss_zmq_msg_t;
    """
    ctypedef struct jss_zmq_msg_t:
        pass

ctypedef void (*free_fn_t)(void *data, void *hint) noexcept nogil
ctypedef int (*send_f)(void *socket, const void *buf, size_t size, int flags) noexcept nogil
ctypedef int (*msg_f)(jss_zmq_msg_t *msg) noexcept nogil
ctypedef int (*msg_init_size_f)(jss_zmq_msg_t *msg, size_t size) noexcept nogil
ctypedef int (*msg_init_data_f)(jss_zmq_msg_t *msg, void *data, size_t size, free_fn_t ffn, void *hint) noexcept nogil
ctypedef int (*msg_send_f)(jss_zmq_msg_t *msg, void *socket, int flags) noexcept nogil
ctypedef int (*msg_recv_f)(jss_zmq_msg_t *msg, void *socket, int flags) noexcept nogil
ctypedef void *(*msg_data_f)(jss_zmq_msg_t *msg) noexcept nogil
ctypedef size_t (*msg_size_f)(const jss_zmq_msg_t *msg) noexcept nogil
ctypedef int (*errno_f)() noexcept nogil
