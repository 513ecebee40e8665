"""Pure-Python twins of the compiled core, with the same names and behaviour.

Used when the extensions cannot be imported (PyPy, a build without a compiler) or when
``JSESSION_PURE_PYTHON=1`` is set.
"""
