"""The error every lab operation raises for a user to read (`neutrino lab`
prints it and exits 1)."""


class LabError(RuntimeError):
    pass
