"""Project tooling behind `project.yml`: offline asset fetching and
verification, the resumable experiment grid and the results report."""
