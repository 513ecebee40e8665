"""The directory ``python -m jsession run`` puts first on PYTHONPATH: its ``sitecustomize``
turns the switch on in every Python process started beneath the command."""
