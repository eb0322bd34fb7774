"""Tsunami workflow: Okada source, shallow-water solver, HySEA-compatible I/O, PTF ensemble.

Importing this package is cheap: the numerical modules (NumPy, numba, xarray, matplotlib) are
imported by the submodules that need them, never here.

Submodules: ``okada`` (source), ``solver`` (numba CPU / numba.cuda GPU), ``grids`` (bathymetry
I/O and the idealised basin), ``output`` (HySEA-style NetCDF), ``hysea`` (binary integration),
``ensemble`` and ``products`` (PTF-style forecast), ``forecast`` (the application).
"""

__all__: list[str] = []
