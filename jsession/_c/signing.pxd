# What other compiled modules call without a Python call (messages.pyx).

cdef int verify(object signer, object signature, object frames) except -1
