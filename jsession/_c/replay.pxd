# What other compiled modules call without a Python call (messages.pyx).

cdef int add(object history, object item) except -1
