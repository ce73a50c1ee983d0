"""The rules of supervision, with no I/O: the 督办 lifecycle, deadlines on the work-order calendar,
the closure measure, letter numbers and letters, and the rules that draft reminder letters."""
