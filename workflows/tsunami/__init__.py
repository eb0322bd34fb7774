"""Tsunami workflow: Okada source, shallow-water solver, HySEA-compatible I/O, PTF ensemble.

Importing this package is cheap: NumPy, numba, netCDF4 and matplotlib are imported by the
submodules that need them, never here.

Submodules:

- ``okada``: Okada (1985) surface deformation, verified against the paper's Table 2;
  :class:`~workflows.tsunami.okada.Fault` in the Tsunami-HySEA (centroid) convention.
- ``solver`` (+ ``_scheme``, ``gpu``, ``reference``): well-balanced, positivity-preserving
  finite-volume shallow-water solver on lon/lat grids; numba CPU kernels, numba.cuda GPU
  kernels, a plain NumPy reference.
- ``grids``: bathymetry readers (NetCDF, GMT, ESRI ASCII), points of interest, the idealised
  basin; ``output``: HySEA-style NetCDF writer and reader.
- ``hysea``: Tsunami-HySEA parameter file, inputs, ``@binary``/``@mpi`` task, output reader.
- ``ensemble``, ``products``, ``tasks``, ``forecast``: the PTF-style forecast application.

Command lines: ``python -m workflows.tsunami okada|simulate ...`` (single scenarios) and
``python -m workflows.runtime workflows.tsunami.forecast --event ... --output ...``.
"""

__all__: list[str] = []
