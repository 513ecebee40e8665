# What other compiled modules call without a Python call (messages.pyx).

cdef object decode(object data)
