"""From gaps to a plan: the fewest new sites and fibre cabinets that meet the targets.

Data flows one way: base run (:class:`citycov.pipeline.results.Results`) → candidates
(:mod:`.candidates` for sites, :mod:`.cabinets` for fibre cabinets) → their contributions as a
sparse candidate × demand-unit matrix (:mod:`.site_matrix`, :mod:`.cabinets`) → one covering
problem (:class:`.problem.CoverProblem`) → selection (:mod:`.solve`: CELF greedy, HiGHS MIP,
OR-Tools CP-SAT cross-check) → the full-engine check with the chosen sites and cabinets added
(:mod:`.planner`) → :class:`.result.PlanResult`, rendered by :mod:`citycov.outputs`.
"""
