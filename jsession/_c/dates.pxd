# What other compiled modules call without a Python call (messages.pyx).

cdef object extract(object obj, object slow_parse)
cdef object extract_owned(object obj, object slow_parse)
