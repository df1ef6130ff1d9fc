"""Review: two builds compared (diff), a pull request's plan, the report, the CI formats."""
