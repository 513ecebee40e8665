"""The compiled core: Cython mechanisms over buffers (signing, frames, dates).

No traitlets and no Jupyter policy here; ``jsession._py`` holds the pure-Python twins.
"""
